/*
 * socket.io on the accept loop: `node build/demo/frameworks/socketio.js [--port N] [--limit N] [--hold-ms N]`,
 * then `io('http://127.0.0.1:PORT').emitWithAck('hello')`.
 */
import { createServer } from 'node:http';
import { Server as SocketIoServer } from 'socket.io';
import { reply, serveRecipe } from './common';

const server = createServer();
// socket.io takes the http.Server's 'request' (long polling) and 'upgrade' (WebSocket) events.
// One client is one connection with `transports: ['websocket']`. With the default (long
// polling first, then the upgrade), a client opens 4 connections during its handshake, 2 at
// once, and keeps 1 (the WebSocket), measured: under `--limit 1` it cannot connect.
const io = new SocketIoServer(server);
io.on('connection', (socket) => {
  socket.on('hello', async (ack: (text: string) => void) => ack(await reply('socket.io')));
});

serveRecipe(server, {
  // io.close() disconnects every client, closes their transports and the http.Server's idle
  // connections. (io.disconnectSockets(true) ends the connections too, but after a polling
  // client leaves engine.io timers that keep the process alive another 30 s, measured.)
  closeConnections: () => void io.close(),
});
