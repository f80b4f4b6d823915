/* The same handler through listen -> handleErrors -> backpressure -> serve. */
import { fromEvent, take } from 'rxjs';
import { backpressure, handleErrors, listen, serve } from '../../src';
import { http, limit, port, ready } from './common';

listen({ host: '127.0.0.1', port, onListening: ready })
  .pipe(
    handleErrors(),
    backpressure(limit),
    serve(({ socket }) => {
      http.emit('connection', socket);
      return fromEvent(socket, 'close').pipe(take(1));
    }),
  )
  .subscribe();
