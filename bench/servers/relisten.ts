/* The smallest answer to the seed's flood, as a floor for bench:stress: a net.Server that
 * hands sockets to http, closes its listening socket at `--limit` live connections and listens
 * again on the same port below it. No logging, no shortage detection, no queue. */
import { createServer, type AddressInfo } from 'node:net';
import { http, limit, port, ready } from './common';

http.emit('listening'); // start http's request-timeout checks, as handTo does
let live = 0;
let bound: AddressInfo | undefined;
const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  if (++live >= limit) server.close();
  socket.on('close', () => {
    if (--live < limit && !server.listening && bound !== undefined) server.listen(bound.port, bound.address);
  });
  http.emit('connection', socket);
});
server.on('error', () => {}); // a refused listen: the next close tries again
server.listen(port, '127.0.0.1', () => {
  bound ??= server.address() as AddressInfo;
  ready(bound);
});
