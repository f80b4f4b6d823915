/*
 * HTTP/2 in cleartext (h2c) on the accept loop: `node build/demo/frameworks/http2.js [--port N] [--limit N] [--hold-ms N]`,
 * then `curl --http2-prior-knowledge http://127.0.0.1:PORT/`.
 */
import { createServer } from 'node:http2';
import { reply, serveRecipe } from './common';

// An Http2Server is a net.Server: handTo hands it sockets as to an http.Server. One connection
// is one HTTP/2 session, however many requests (streams) it carries at once. handTo keeps each
// session in step with the limit: busy while it has open streams, idle when it has none, and
// retired with GOAWAY (`session.close()`: the client opens no new stream, open ones finish,
// then the session closes): an idle one for a client waiting at the limit, and every one at
// once on shutdown. Nothing to add here. (Node's http2 server has no idle timeout by default:
// `server.setTimeout(ms)` or the loop's `silenceTimeout(ms)` closes silent sessions.)
const server = createServer(async (_request, response) => response.end(await reply('http2')));

serveRecipe(server, {});
