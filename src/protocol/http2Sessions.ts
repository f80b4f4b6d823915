import type { ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { Server } from 'node:net';
import { tokenOf } from './tokenOf';

/**
 * Keeps an HTTP/2 server's sessions in step with their tokens: a session is busy while it has
 * open streams and idle when it has none (busy from admission until its first stream ends, as
 * an HTTP/1 connection until its first response), and it retires with GOAWAY
 * (`session.close()`): the client opens no new stream (one it opened meanwhile is refused, and
 * safe to retry: RFC 9113, section 6.8), open streams finish, then the session and its socket
 * close. That retirement is graceful: at shutdown every session gets GOAWAY at once, busy or
 * not, and an idle one is reclaimed for a waiting client even if pings or window updates
 * arrived since its last stream. gRPC (`@grpc/grpc-js`) runs on the same sessions.
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
