import { catchError, defer, EMPTY, finalize, mergeMap } from 'rxjs';
import type { ObservableInput, OperatorFunction } from 'rxjs';
import type { Accepted } from '../result';
import { checkFunction } from '../validate';
import type { Admitted } from './backpressure';

/** How {@link serve} reports a handler that failed. */
export interface ServeOptions<C extends Accepted> {
  /**
   * Called with a handler's error and its connection; the loop goes on. Default: one line on
   * stderr (`connection handler failed: ...`). An exception it throws errors the stream.
   */
  onError?: (error: unknown, connection: C) => void;
}

function logHandlerError(error: unknown, connection: Accepted): void {
  const { remoteAddress, remotePort } = connection.socket;
  console.error(`connection handler failed for ${remoteAddress ?? 'a peer'}:${remotePort ?? ''}:`, error);
}

/**
 * Runs `handler` for every connection, all at once (the limit is applied before, by
 * {@link backpressure}, so `mergeMap` never queues). When the handler's Observable (or
 * Promise) completes, errors or is unsubscribed, a finalizer releases the connection's token
 * and destroys its socket, so no path leaks a slot or a descriptor. A handler that throws or
 * errors is reported through `onError` and the loop goes on. Emits what the handlers emit.
 *
 * ```
 * admitted: -a---b------|
 * handler a:  ---x|              x: a's handler emits x, then completes: a's token released
 * handler b:      --#            #: reported, b's token released, the loop goes on
 * output:   ----x-------|
 * ```
 *
 * @example
 * const http = createHttpServer(app);
 * listen({ port: 8080 }).pipe(
 *   handleErrors(), backpressure(100),
 *   serve(({ socket }) => { http.emit('connection', socket); return fromEvent(socket, 'close').pipe(take(1)); }),
 * ).subscribe();
 *
 * @param handler Serves one connection; completes when the connection is done.
 * @param options Where handler errors go.
 * @returns An operator from connections to whatever the handlers emit.
 */
export function serve<T = never, C extends Accepted = Admitted>(
  handler: (connection: C) => ObservableInput<T>,
  options: ServeOptions<C> = {},
): OperatorFunction<C, T> {
  checkFunction('serve: handler', handler);
  const onError = options.onError ?? logHandlerError;
  checkFunction('serve: options.onError', onError);

  return mergeMap((connection: C) =>
    defer(() => handler(connection)).pipe(
      catchError((error: unknown) => {
        onError(error, connection);
        return EMPTY;
      }),
      finalize(() => {
        (connection as Partial<Admitted>).token?.release();
        connection.socket.destroy();
      }),
    ),
  );
}
