/*
 * Express 5 on the accept loop: `node build/demo/frameworks/express.js [--port N] [--limit N] [--hold-ms N]`.
 * An Express app is a request handler: give it to an `http.Server` that never listens, and hand
 * that server the connections (instead of `app.listen()`, which creates and listens itself).
 */
import express from 'express';
import { createServer } from 'node:http';
import { reply, serveRecipe } from './common';

const app = express();
app.get('/', async (_request, response) => {
  response.type('text').send(await reply('express')); // Express 5 passes a rejection on to its error handler
});

const server = createServer(app);
// One keep-alive connection is one slot. On shutdown the loop closes idle ones at once and busy
// ones after their response (Connection: close): nothing to add.
serveRecipe(server, {});
