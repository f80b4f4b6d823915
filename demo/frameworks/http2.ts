/*
 * HTTP/2 in cleartext (h2c) on the accept loop: `node build/demo/frameworks/http2.js [--port N] [--limit N] [--hold-ms N]`,
 * then `curl --http2-prior-knowledge http://127.0.0.1:PORT/`.
 */
import { createServer, type ServerHttp2Session } from 'node:http2';
import { reply, serveRecipe } from './common';

// An Http2Server is a net.Server: handTo hands it sockets as to an http.Server. One
// connection is one HTTP/2 session, however many requests (streams) it carries at once, and it
// holds its slot until the session closes: an idle one forever, as Node's http2 server has no
// timeout by default (`server.setTimeout(ms)` or the loop's `idleTimeout(ms)` closes it).
const server = createServer(async (_request, response) => response.end(await reply('http2')));

// Node's server.close() leaves open sessions open (its docs: call session.close() on each):
// keep them, to close them on shutdown.
const sessions = new Set<ServerHttp2Session>();
server.on('session', (session: ServerHttp2Session) => {
  sessions.add(session);
  session.once('close', () => sessions.delete(session));
});

serveRecipe(server, {
  // session.close() sends GOAWAY: the client opens no new stream, the open ones finish, then
  // the session and its socket close.
  closeConnections: () => sessions.forEach((session) => session.close()),
});
