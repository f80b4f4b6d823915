/*
 * WebSockets (ws) on the accept loop: `node build/demo/frameworks/ws.js [--port N] [--limit N] [--hold-ms N]`,
 * then send any message to ws://127.0.0.1:PORT/ and get the reply.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { tokenOf } from 'rxjs-listen';
import { reply, serveRecipe } from './common';

const server = createServer((_request, response) => response.end('this server speaks WebSocket\n'));
// ws takes the http.Server's 'upgrade' event (`{ noServer: true }` with your own 'upgrade'
// listener calling wss.handleUpgrade works the same): the upgraded connection keeps its slot
// as long as the WebSocket is open, however quiet.
const wss = new WebSocketServer({ server });
wss.on('connection', (socket, request) => {
  // How the loop retires this connection at shutdown: a close frame 1001 (going away), at
  // once, then the socket closes when the client answers (or is destroyed when the grace runs
  // out). A close frame lets nothing in flight be cut, so it is graceful (`true`). (ws 8's own
  // wss.close() leaves its clients open.)
  tokenOf(request.socket)?.retireWith(() => socket.close(1001, 'server shutting down'), true);
  socket.on('message', async () => socket.send(await reply('ws')));
});

serveRecipe(server, { close: () => new Promise((resolve) => wss.close(resolve)) });
