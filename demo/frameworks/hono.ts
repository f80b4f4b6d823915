/*
 * Hono on Node (@hono/node-server) on the accept loop:
 * `node build/demo/frameworks/hono.js [--port N] [--limit N] [--hold-ms N]`.
 */
import { createAdaptorServer } from '@hono/node-server'; // not its `serve`: that one listens, and clashes with ours
import { Hono } from 'hono';
import { Server } from 'node:http';
import { reply, serveRecipe } from './common';

const app = new Hono();
app.get('/', async (context) => context.text(await reply('hono')));

// createAdaptorServer builds the server without listening. Its type is a union of http.Server,
// Http2Server and Http2SecureServer (it makes an HTTP/2 one with `createServer: http2.createServer`):
// all are net.Servers, so handTo takes any; narrowed here to the HTTP/1 server this example builds.
const server = createAdaptorServer({ fetch: app.fetch });
if (!(server instanceof Server)) throw new TypeError('hono example: expected an http.Server');
serveRecipe(server, {}); // keep-alive connections close as they go idle on shutdown
