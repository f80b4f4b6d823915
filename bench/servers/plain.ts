/* The baseline: Node's own accept loop, `http.createServer(...).listen()`. */
import { http, port, ready } from './common';

http.listen(port, '127.0.0.1', () => ready(http.address()));
