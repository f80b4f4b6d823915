/*
 * Koa 3 on the accept loop: `node build/demo/frameworks/koa.js [--port N] [--limit N] [--hold-ms N]`.
 * `app.callback()` is the request handler `app.listen()` would give its own server: give it to
 * an `http.Server` that never listens, and hand that server the connections.
 */
import Koa from 'koa';
import { createServer } from 'node:http';
import { reply, serveRecipe } from './common';

const app = new Koa();
app.use(async (context) => {
  context.body = await reply('koa');
});

const server = createServer(app.callback());
// Koa keeps nothing of its own to close: on shutdown, close the http.Server's idle keep-alive
// connections now rather than at the end of the grace.
serveRecipe(server, {}); // keep-alive connections close as they go idle on shutdown
