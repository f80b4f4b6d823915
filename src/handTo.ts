import { Server as NetServer, type Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { Accepted } from './result';

/**
 * A {@link serve} handler that hands each connection to a server that never listens itself:
 * an `http.Server`, `https.Server`, `tls.Server` or `net.Server`, which then speaks its
 * protocol on the socket as if it had accepted it. The connection lives until its socket
 * closes.
 *
 * Node's http and https servers start their `headersTimeout` / `requestTimeout` checks only
 * when they emit `'listening'`; a server that never listens would never enforce them, and a
 * slowloris client could hold its slot forever. So this emits `'listening'` on the server
 * once, now. And a `tls.Server` (or `https.Server`) only reports a handshake that timed out
 * (`handshakeTimeout`, default 120 s) or failed as `'tlsClientError'`, leaving the socket open:
 * when the server has no listener for it, this adds one that destroys the socket, so a client
 * that never finishes its handshake cannot hold a slot.
 *
 * @example
 * const app = createServer((req, res) => res.end('hello\n'));
 * listen({ port: 8080 }).pipe(handleErrors(), backpressure(100), serve(handTo(app))).subscribe();
 *
 * @param server The server to hand connections to; it must not listen itself.
 * @returns The handler for {@link serve}.
 */
export function handTo(server: NetServer): (connection: Accepted) => void {
  if (!(server instanceof NetServer)) throw new TypeError(`handTo: server must be a net.Server, got ${String(server)}`);
  if (server.listening) throw new TypeError('handTo: server must not listen itself: rxjs-listen accepts for it');
  server.emit('listening');
  if (server instanceof TlsServer && server.listenerCount('tlsClientError') === 0) server.on('tlsClientError', destroyClient);
  return ({ socket }) => void server.emit('connection', socket);
}

function destroyClient(_error: Error, socket: Socket): void {
  socket.destroy();
}
