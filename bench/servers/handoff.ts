/* Node's own hand-off, no library: a net.Server (with http's socket options) that emits each
 * socket on an http.Server that never listens. Separates what hand-off costs from what the
 * library costs. */
import { createServer } from 'node:net';
import { http, port, ready } from './common';

http.emit('listening'); // start http's request-timeout checks, as handTo does
const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => http.emit('connection', socket));
server.listen(port, '127.0.0.1', () => ready(server.address()));
