import { Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { tokens, type Token } from '../limit/token';
import type { Accepted, ListenerControl } from '../errors/result';

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
 * For an `http.Server`, connections admitted by {@link backpressure} are kept in step with the
 * limit: each is marked busy while a request is in flight and idle between requests
 * ({@link Token.idle}; one whose request asks to close stays busy until it closes), so an
 * idle keep-alive connection can be closed to admit a waiting one, and while connections
 * wait (or the server shuts down) responses carry `Connection: close` (decided when the
 * headers are written), so busy connections end after their response instead of lingering
 * for the keep-alive timeout. (Not yet for `https.Server`:
 * its requests come on the TLS socket wrapped around the accepted one, which Node does not
 * link back publicly; HTTPS connections are neither reclaimed nor asked to close.)
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
  if (server instanceof HttpServer) trackExchanges(server);
  let started = false;
  return (connection) => {
    if (!started) {
      started = true;
      start(server, connection.listener);
    }
    server.emit('connection', connection.socket);
  };
}

/** Makes a server that never listens behave as one that does, bound where `listener` is. */
function start(server: NetServer, listener: ListenerControl): void {
  server.address = () => listener.address();
  server.emit('listening');
}

/**
 * Marks each admitted HTTP connection busy from a request to the end of its response (each
 * request is one exchange: pipelined ones overlap), and idle in between (one that ends with
 * its response stays busy to its close); asks for `Connection: close` while the limit is
 * retiring. This runs on every request, so it creates no closure there: the token is read
 * from the socket (the Limiter puts it there), and the functions are shared.
 */
function trackExchanges(server: HttpServer): void {
  // Before the application's own listener, so the header can still change when it answers at once.
  server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
    const token = tokenOf(request.socket);
    if (token === undefined) return;
    token.busy();
    // Answered already, by a 'request' listener that went first (rare): its 'prefinish' may
    // have passed (it comes within end() when the response is the socket's current one), its
    // 'finish' has not. Before http's own 'finish' listener, which detaches the socket.
    if (response.writableEnded) return void response.prependListener('finish', exchangeDone);
    // The client asked to close (or speaks HTTP/1.0): the connection ends with this response,
    // busy to the last, so there is no idle time to mark and no header to decide.
    if (!response.shouldKeepAlive) return;
    // Keep-alive is decided when the headers are written (end(), write() and flushHeaders()
    // all go through writeHead), not now: clients that begin to wait, or a shutdown that
    // begins, while this request is worked on count too. A response that said keep-alive and
    // is closed right after would race the client's next request.
    response.writeHead = writeHeadClosingWhenRetiring as ServerResponse['writeHead'];
    // 'prefinish' (end() has handed the whole response to the socket), not 'finish': nothing
    // else listens to it, so the listener is a function of its own, where a second 'finish'
    // listener would make http copy a listener array for every response.
    response.on('prefinish', exchangeDone);
  });
}

// Shared functions, not closures: they run for every request. The token is read from the
// socket under its symbol (a property read), where the Limiter put it.
const kToken = tokens.key;
function tokenOf(socket: Socket | null): Token | undefined {
  return (socket as Record<symbol, Token | undefined> | null)?.[kToken];
}

function writeHeadClosingWhenRetiring(this: ServerResponse, ...args: unknown[]): ServerResponse {
  if (tokenOf(this.socket)?.retiring) this.shouldKeepAlive = false;
  return (Object.getPrototypeOf(this) as { writeHead: (...a: unknown[]) => ServerResponse }).writeHead.apply(this, args);
}

function exchangeDone(this: ServerResponse): void {
  tokenOf(this.socket)?.idle();
}

function destroyClient(_error: Error, socket: Socket): void {
  socket.destroy();
}
