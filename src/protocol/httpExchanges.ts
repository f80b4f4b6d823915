import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import { tokenOf } from './tokenOf';

const SHED_BODY = 'Service Unavailable: the server is overloaded, try again later\n';
const SHED_HEADERS = { 'Retry-After': '1', 'Content-Type': 'text/plain', 'Content-Length': String(Buffer.byteLength(SHED_BODY)) };

/**
 * Marks each admitted HTTP/1 connection (HTTPS too: its requests come on the TLS socket, and
 * {@link index!tokenOf} finds the token through it) busy from a request to the end of its response
 * (each request is one exchange: pipelined ones overlap), and idle in between (one that ends
 * with its response stays busy to its close); answers `Connection: close` while its token is
 * retiring.
 *
 * Each request is first judged ({@link index!Token.tryBusy}): one the limiter does not admit (the
 * process is overloaded) is answered `503` with `Retry-After: 1` at once, before the
 * application sees it, and the connection stays open unless it is retiring: overload is shed
 * per request, never by closing a connection a client may be sending on.
 *
 * This runs on every request, so it creates no closure there: the token is read from the
 * socket (the Limiter puts it there), and the functions are shared.
 */
export function trackExchanges(server: HttpServer): void {
  // The server's own emit, wrapped: a shed request must not reach the application's listeners,
  // and this runs before all of them (the header can still change when one answers at once).
  const emit = server.emit;
  server.emit = function (this: HttpServer, event: string | symbol, request?: unknown, response?: unknown): boolean {
    if (event === 'request' && !began(request as IncomingMessage, response as ServerResponse)) return true;
    // `apply(this, arguments)`, not a rest parameter: every event passes here, and V8 passes
    // the arguments on without making an array.
    return emit.apply(this, arguments as never);
  } as HttpServer['emit'];
}

/** Begins a request's exchange, or answers it 503. @returns Whether the application gets it. */
function began(request: IncomingMessage, response: ServerResponse): boolean {
  const token = tokenOf(request.socket);
  if (token === undefined) return true;
  if (!token.tryBusy()) {
    if (token.retiring) response.shouldKeepAlive = false;
    response.writeHead(503, SHED_HEADERS).end(SHED_BODY);
    return false;
  }
  // The client asked to close (or speaks HTTP/1.0): the connection ends with this response,
  // busy to the last, so there is no idle time to mark and no header to decide.
  if (!response.shouldKeepAlive) return true;
  // Keep-alive is decided when the headers are written (end(), write() and flushHeaders()
  // all go through writeHead), not now: clients that begin to wait, or a shutdown that
  // begins, while this request is worked on count too. A response that said keep-alive and
  // is closed right after would race the client's next request.
  response.writeHead = writeHeadClosingWhenRetiring as ServerResponse['writeHead'];
  // 'prefinish' (end() has handed the whole response to the socket), not 'finish': nothing
  // else listens to it, so the listener is a function of its own, where a second 'finish'
  // listener would make http copy a listener array for every response.
  response.on('prefinish', exchangeDone);
  return true;
}

// Shared functions, not closures: they run for every request.
function writeHeadClosingWhenRetiring(this: ServerResponse, ...args: unknown[]): ServerResponse {
  if (tokenOf(this.socket)?.retiring) this.shouldKeepAlive = false;
  return (Object.getPrototypeOf(this) as { writeHead: (...a: unknown[]) => ServerResponse }).writeHead.apply(this, args);
}

function exchangeDone(this: ServerResponse): void {
  tokenOf(this.socket)?.idle();
}
