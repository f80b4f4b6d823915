/*
 * WebSockets (ws) on the accept loop: `node build/demo/frameworks/ws.js [--port N] [--limit N] [--hold-ms N]`,
 * then send any message to ws://127.0.0.1:PORT/ and get the reply.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { reply, serveRecipe } from './common';

const server = createServer((_request, response) => response.end('this server speaks WebSocket\n'));
// ws takes the http.Server's 'upgrade' event (`{ noServer: true }` with your own 'upgrade'
// listener calling wss.handleUpgrade works the same): the upgraded connection keeps its slot
// as long as the WebSocket is open, however quiet.
const wss = new WebSocketServer({ server });
wss.on('connection', (socket) => {
  socket.on('message', async () => socket.send(await reply('ws')));
});

serveRecipe(server, {
  closeConnections: () => {
    // The http.Server knows nothing of upgraded connections, and wss.close() leaves its clients
    // open (ws 8): close each one (1001, going away); the client answers and the socket closes.
    // One that does not answer is destroyed when the grace runs out.
    for (const client of wss.clients) client.close(1001, 'server shutting down');
  },
  close: () => new Promise((resolve) => wss.close(resolve)),
});
