import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import { tokenOf } from './tokenOf';

const SHED_BODY = 'Service Unavailable: the server is overloaded, try again later\n';
const SHED_HEADERS = { 'Retry-After': '1', 'Content-Type': 'text/plain', 'Content-Length': String(Buffer.byteLength(SHED_BODY)) };

/**
 * Marks each admitted HTTP/1 connection (HTTPS too, through {@link index!tokenOf}) busy from a
 * request to the end of its response (pipelined ones overlap) and idle in between; answers
 * `Connection: close` while its token is retiring. A request the limiter does not admit
 * ({@link index!Token.tryBusy}: the process is overloaded) is answered `503` with
 * `Retry-After: 1` before the application sees it, and the connection stays open unless it is
 * retiring: overload is shed per request, never by closing a connection a client may be sending on.
 * This runs on every request, so it creates no closure there.
 */
export function trackExchanges(server: HttpServer): void {
  // The server's own emit, wrapped: a shed request must not reach the application's listeners,
  // and this runs before all of them.
  const emit = server.emit;
  server.emit = function (this: HttpServer, event: string | symbol, request?: unknown, response?: unknown): boolean {
    if (event === 'request' && !began(request as IncomingMessage, response as ServerResponse)) return true;
    // `arguments`, not a rest parameter: every event passes here, and V8 passes them on without an array.
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
  // The client asked to close (or speaks HTTP/1.0): busy to the last, nothing to decide.
  if (!response.shouldKeepAlive) return true;
  // Keep-alive is decided when the headers are written (end(), write() and flushHeaders() all
  // go through writeHead), so that waits and shutdowns that begin meanwhile count: a response
  // that said keep-alive and is closed right after would race the client's next request.
  response.writeHead = writeHeadClosingWhenRetiring as ServerResponse['writeHead'];
  // 'prefinish' (the whole response is handed to the socket), not 'finish': a second 'finish'
  // listener would make http copy a listener array for every response.
  response.on('prefinish', exchangeDone);
  return true;
}

function writeHeadClosingWhenRetiring(this: ServerResponse, ...args: unknown[]): ServerResponse {
  if (tokenOf(this.socket)?.retiring) this.shouldKeepAlive = false;
  return (Object.getPrototypeOf(this) as { writeHead: (...a: unknown[]) => ServerResponse }).writeHead.apply(this, args);
}

function exchangeDone(this: ServerResponse): void {
  tokenOf(this.socket)?.idle();
}
