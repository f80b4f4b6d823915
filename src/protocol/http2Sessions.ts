import type { ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { Server } from 'node:net';
import { tokenOf } from './tokenOf';

/**
 * Keeps an HTTP/2 server's sessions in step with their tokens: busy while a session has open
 * streams (and from admission to its first stream's end), idle when it has none. It retires
 * with GOAWAY (`session.close()`): the client opens no new stream (one opened meanwhile is
 * refused, safe to retry: RFC 9113, 6.8), open streams finish, then the session closes. That
 * is graceful, so at shutdown every session gets GOAWAY at once, busy or not, and an idle one
 * is reclaimed even if pings arrived since its last stream. gRPC runs on the same sessions.
 */
export function trackSessions(server: Server): void {
  server.on('session', (session: ServerHttp2Session) => {
    const token = tokenOf(session.socket);
    if (token === undefined) return;
    token.protocol = 'h2';
    token.retireWith(() => session.close(), true);
    session.on('stream', (stream: ServerHttp2Stream) => {
      token.busy();
      stream.once('close', () => token.idle());
    });
  });
}
