/* The same handler through listen -> handleErrors -> backpressure -> serve. */
import { backpressure, handleErrors, handTo, listen, serve } from '../../src';
import { http, limit, port, ready } from './common';

listen({ host: '127.0.0.1', port, onListening: ready, server: { allowHalfOpen: true, noDelay: true } }) // sockets as http makes them
  .pipe(
    handleErrors(),
    backpressure(limit),
    serve(handTo(http)),
  )
  .subscribe();
