/* The overload baseline: Node's own accept loop, `http.createServer(...).listen()`, with a
 * CPU-bound handler: every response first burns --busy-ms of CPU (a busy loop, not a timer),
 * as the demo's --busy-ms does. Own arguments, because common.ts rejects unknown flags.
 *
 *   node build/bench/servers/plain-busy.js [--port N] [--busy-ms N]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const args = parseArgs({ options: { port: { type: 'string' }, 'busy-ms': { type: 'string' } } }).values;
const port = Number(args.port ?? 0);
const busyMs = Number(args['busy-ms'] ?? 0);
if (!Number.isInteger(port) || !Number.isInteger(busyMs) || busyMs < 0) {
  console.error(`plain-busy: --port and --busy-ms must be integers >= 0, got ${JSON.stringify(args)}`);
  process.exit(2);
}

const http = createServer((_request, response) => {
  for (const end = performance.now() + busyMs; performance.now() < end; );
  response.end('ok\n');
});
http.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${(http.address() as AddressInfo).port}`));
process.on('SIGTERM', () => process.exit(0));
