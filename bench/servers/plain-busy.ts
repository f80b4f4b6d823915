/* The overload baseline: Node's own accept loop, `http.createServer(...).listen()`, with a
 * CPU-bound handler: every response first burns --busy-ms of CPU (a busy loop, not a timer),
 * as the demo's --busy-ms does; with --alloc-kb and --hold-ms, it also allocates and holds
 * heap until a delayed response, as the demo's flags of those names do. Own arguments,
 * because common.ts rejects unknown flags.
 *
 *   node build/bench/servers/plain-busy.js [--port N] [--busy-ms N] [--alloc-kb N] [--hold-ms N]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const text = { type: 'string' } as const;
const args = parseArgs({ options: { port: text, 'busy-ms': text, 'alloc-kb': text, 'hold-ms': text } }).values;
const port = Number(args.port ?? 0);
const busyMs = Number(args['busy-ms'] ?? 0);
const allocKb = Number(args['alloc-kb'] ?? 0);
const holdMs = Number(args['hold-ms'] ?? 0);
if (![port, busyMs, allocKb, holdMs].every((n) => Number.isInteger(n) && n >= 0)) {
  console.error(`plain-busy: --port, --busy-ms, --alloc-kb and --hold-ms must be integers >= 0, got ${JSON.stringify(args)}`);
  process.exit(2);
}

const http = createServer((_request, response) => {
  for (const end = performance.now() + busyMs; performance.now() < end; );
  // The same work as the demo's handler: doubles on the V8 heap, alive until the response.
  const held = allocKb > 0 ? new Array<number>(allocKb * 128).fill(1.5) : undefined;
  const reply = (): void => {
    if (held !== undefined) response.setHeader('X-Held-KiB', String((held.length * 8) / 1024));
    response.end('ok\n');
  };
  if (holdMs > 0) setTimeout(reply, holdMs);
  else reply();
});
http.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${(http.address() as AddressInfo).port}`));
process.on('SIGTERM', () => process.exit(0));
