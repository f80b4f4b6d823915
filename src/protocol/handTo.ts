import { Server as HttpServer } from 'node:http';
import { createSecureServer, createServer as createHttp2Server } from 'node:http2';
import { Server as HttpsServer } from 'node:https';
import { Server as NetServer, type Socket } from 'node:net';
import { Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Accepted } from '../errors/result';
import type { Token } from '../limit/token';
import { trackSessions } from './http2Sessions';
import { trackExchanges } from './httpExchanges';
import { tokenOf } from './tokenOf';

/**
 * A {@link serve} handler that hands each connection to a server that never listens itself
 * (`http`, `https`, `tls`, `http2` or `net`), which then speaks its protocol on the socket as
 * if it had accepted it.
 *
 * With the first connection the server emits `'listening'` (http and https start their
 * `headersTimeout` / `requestTimeout` checks only then: without it a slowloris client could
 * hold its slot forever), and its `address()` answers the listener's (before, `null`).
 *
 * Connections admitted by {@link backpressure} are kept in step with the limit, so that an idle
 * one can be retired to admit a waiting one, and at shutdown (each sets {@link Token.protocol}):
 * - `http.Server`, `https.Server`: busy while a request is in flight; while connections wait
 *   (or at shutdown) responses carry `Connection: close`, so busy connections end after their
 *   response, and an idle one is closed (HTTPS: with a TLS close_notify).
 * - `http2` servers: busy while a session has open streams; it retires with GOAWAY.
 * - `tls.Server`: busy from admission, the application marks its exchanges through
 *   {@link tokenOf}; it retires with a close_notify.
 *
 * A TLS handshake that times out or fails leaves the socket open (`'tlsClientError'`): when the
 * server has no listener for it, this adds one that destroys the socket, so it holds no slot.
 *
 * @example
 * const app = createServer((req, res) => res.end('hello\n'));
 * listen({ port: 8080 }).pipe(handleErrors(), backpressure(100), serve(handTo(app))).subscribe();
 *
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
      // From now on the server behaves as one that listens, bound where the listener is.
      started = true;
      const { listener } = connection;
      server.address = () => listener.address();
      server.emit('listening');
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

function destroyClient(_error: Error, socket: Socket): void {
  socket.destroy();
}
