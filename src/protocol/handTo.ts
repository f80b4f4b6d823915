import { Server as HttpServer } from 'node:http';
import { createSecureServer, createServer as createHttp2Server } from 'node:http2';
import { Server as HttpsServer } from 'node:https';
import { Server as NetServer, type Socket } from 'node:net';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Accepted, ListenerControl } from '../errors/result';
import type { Token } from '../limit/token';
import { trackSessions } from './http2Sessions';
import { trackExchanges } from './httpExchanges';
import { tokenOf } from './tokenOf';

/**
 * A {@link serve} handler that hands each connection to a server that never listens itself:
 * an `http.Server`, `https.Server`, `tls.Server`, `http2` server or `net.Server`, which then
 * speaks its protocol on the socket as if it had accepted it. The connection lives until its
 * socket closes.
 *
 * With the first connection, the server emits `'listening'` (Node's http and https servers
 * start their `headersTimeout` / `requestTimeout` checks only then: without it a slowloris
 * client could hold its slot forever), and from then on its `address()` answers the address
 * of the listener that accepts for it (before, `null`). Announce readiness with
 * {@link listen}'s `onListening`, which runs when the port is bound.
 *
 * Connections admitted by {@link backpressure} are kept in step with the limit, so that an
 * idle one can be retired to admit a waiting one, and at shutdown ({@link Token}):
 * - `http.Server` and `https.Server`: each connection is busy while a request is in flight
 *   and idle between requests (one whose request asks to close stays busy until it closes);
 *   while connections wait (or the server shuts down) responses carry `Connection: close`
 *   (decided when the headers are written), so busy connections end after their response
 *   instead of lingering for the keep-alive timeout; an idle one is closed (HTTPS: with a TLS
 *   close_notify).
 * - `http2` servers (`createServer`, `createSecureServer`): a session is busy while it has
 *   open streams, and retires with GOAWAY (see `trackSessions`).
 * - `tls.Server`: busy from admission; the application marks its exchanges through
 *   {@link tokenOf} and the connection retires with a close_notify.
 * Each sets {@link Token.protocol} (`'http/1.1'`, `'https'`, `'h2'`, `'tls'`).
 *
 * A `tls.Server` (or `https.Server`) only reports a handshake that timed out
 * (`handshakeTimeout`, default 120 s) or failed as `'tlsClientError'`, leaving the socket
 * open: when the server has no listener for it, this adds one that destroys the socket, so a
 * client that never finishes its handshake cannot hold a slot.
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
  if (server instanceof TlsServer && server.listenerCount('tlsClientError') === 0) server.on('tlsClientError', destroyClient);
  const protocol = protocolOf(server);
  if (protocol === 'http/1.1' || protocol === 'https') trackExchanges(server as HttpServer);
  if (protocol === 'h2') trackSessions(server);
  else if (server instanceof TlsServer) server.on('secureConnection', retireWithCloseNotify);
  let started = false;
  return (connection) => {
    if (!started) {
      started = true;
      start(server, connection.listener);
    }
    // Admitted connections carry their token (a property read, cheaper than tokenOf).
    const { token } = connection as { readonly token?: Token };
    if (token !== undefined) token.protocol = protocol;
    server.emit('connection', connection.socket);
  };
}

let http2Prototypes: readonly object[] | undefined;

/** What a server speaks, for the token's label and the tracking it gets. */
function protocolOf(server: NetServer): string {
  // Node exports no HTTP/2 server class: their prototypes, from servers made once (never listened).
  http2Prototypes ??= [Object.getPrototypeOf(createHttp2Server()), Object.getPrototypeOf(createSecureServer())];
  if (http2Prototypes.some((prototype) => Object.prototype.isPrototypeOf.call(prototype, server))) return 'h2';
  if (server instanceof HttpsServer) return 'https';
  if (server instanceof HttpServer) return 'http/1.1';
  if (server instanceof TlsServer) return 'tls';
  return 'tcp';
}

/** A TLS connection (HTTPS, or TLS without HTTP) retires with a close_notify, then a FIN. */
function retireWithCloseNotify(socket: TLSSocket): void {
  tokenOf(socket)?.retireWith(() => socket.destroySoon());
}

/** Makes a server that never listens behave as one that does, bound where `listener` is. */
function start(server: NetServer, listener: ListenerControl): void {
  server.address = () => listener.address();
  server.emit('listening');
}

function destroyClient(_error: Error, socket: Socket): void {
  socket.destroy();
}
