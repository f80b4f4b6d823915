/* A server that refuses every connection with the same `503`, one of four ways, for bench/refusals.ts:
 *   bare      net.Server: the canned answer written at 'connection', the request read and dropped (Node's floor)
 *   library   net.Server: the library's `serviceUnavailable()` at 'connection' (the same, and a linger timer)
 *   http      http.Server: the request parsed, then a `503` written by the handler (the exchange gate's way)
 *   pipeline  listen -> acceptLoop -> serve(handTo(http)), one exchange in flight at most (`setExchangeLimit(1)`):
 *             the one admitted request is held unanswered, every other answered `503` by the exchange gate
 *             (what the gate answers in a retry storm: the request read, parsed and judged)
 *
 *   node build/bench/servers/refuse-all.js --way bare|library|http|pipeline [--port N]
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { acceptLoop, handTo, listen, serve, serviceUnavailable } from '../../src';

const args = parseArgs({ options: { port: { type: 'string' }, way: { type: 'string' } } }).values;
const port = Number(args.port ?? 0);
const WAYS = ['bare', 'library', 'http', 'pipeline'];
if (!Number.isInteger(port) || port < 0 || !WAYS.includes(args.way ?? '')) {
  console.error(`refuse-all: --way must be one of ${WAYS.join(', ')} and --port an integer >= 0, got ${JSON.stringify(args)}`);
  process.exit(2);
}

const body = 'Service Unavailable: too many connections, try again later\n';
const headers = { 'Retry-After': '1', Connection: 'close', 'Content-Type': 'text/plain', 'Content-Length': String(Buffer.byteLength(body)) };
const answer = `HTTP/1.1 503 Service Unavailable\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`;
const ready = (address: AddressInfo | string | null): void => console.log(`listening on http://127.0.0.1:${(address as AddressInfo).port}`);

function bare(socket: Socket): void {
  socket.on('error', () => socket.destroy());
  socket.end(answer);
  socket.resume(); // unread data would make the close a reset
}

if (args.way === 'bare' || args.way === 'library') {
  const server = createServer(args.way === 'bare' ? bare : serviceUnavailable());
  server.listen(port, '127.0.0.1', () => ready(server.address()));
} else if (args.way === 'http') {
  const server = createHttpServer((_request, response) => response.writeHead(503, headers).end(body));
  server.listen(port, '127.0.0.1', () => ready(server.address()));
} else {
  // The request admitted is never answered (the client gives up after its deadline): the one exchange stays in flight.
  const app = createHttpServer(() => undefined);
  const loop = acceptLoop({ maxLagMs: 0, logger: false });
  loop.limiter.setExchangeLimit(1);
  listen({ host: '127.0.0.1', port, onListening: ready, ...loop.listenOptions, server: { allowHalfOpen: true, noDelay: true } })
    .pipe(loop, serve(handTo(app)))
    .subscribe();
}
process.on('SIGTERM', () => process.exit(0));
