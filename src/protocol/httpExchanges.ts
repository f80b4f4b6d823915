import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import { tokenOf } from './tokenOf';

/**
 * Marks each admitted HTTP/1 connection (HTTPS too: its requests come on the TLS socket, and
 * {@link tokenOf} finds the token through it) busy from a request to the end of its response
 * (each request is one exchange: pipelined ones overlap), and idle in between (one that ends
 * with its response stays busy to its close); answers `Connection: close` while its token is
 * retiring. This runs on every request, so it creates no closure there: the token is read
 * from the socket (the Limiter puts it there), and the functions are shared.
 */
export function trackExchanges(server: HttpServer): void {
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

// Shared functions, not closures: they run for every request.
function writeHeadClosingWhenRetiring(this: ServerResponse, ...args: unknown[]): ServerResponse {
  if (tokenOf(this.socket)?.retiring) this.shouldKeepAlive = false;
  return (Object.getPrototypeOf(this) as { writeHead: (...a: unknown[]) => ServerResponse }).writeHead.apply(this, args);
}

function exchangeDone(this: ServerResponse): void {
  tokenOf(this.socket)?.idle();
}
