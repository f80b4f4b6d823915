/* What both benchmark servers share: arguments, the HTTP handler, the ready line, and a
 * heap report on SIGUSR2 (after a full GC when run with --expose-gc). */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

export const args = parseArgs({
  options: {
    port: { type: 'string' },
    'hold-ms': { type: 'string' },
    limit: { type: 'string' },
    stage: { type: 'string' }, // stages.ts
    'no-request-timeouts': { type: 'boolean' },
  },
}).values;
export const port = Number(args.port ?? 0);
export const holdMs = Number(args['hold-ms'] ?? 0);
export const limit = Number(args.limit ?? 10_000);

export function handler(request: IncomingMessage, response: ServerResponse): void {
  const reply = (): void => void response.end(`hello ${request.url}\n`);
  if (holdMs > 0) setTimeout(reply, holdMs);
  else reply();
}

export const http = createServer(handler);
// --no-request-timeouts: connections held idle through a long run (under valgrind, minutes)
// stay open instead of being answered 408 and closed after `headersTimeout` (60 s).
if (args['no-request-timeouts']) {
  http.headersTimeout = 0;
  http.requestTimeout = 0;
}

export function ready(address: AddressInfo | string | null): void {
  const { address: ip, port: bound } = address as AddressInfo;
  console.log(`listening on http://${ip}:${bound}`);
}

process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const { heapUsed, rss } = process.memoryUsage();
  console.log(`heap ${heapUsed} rss ${rss}`);
});
process.on('SIGTERM', () => process.exit(0));
