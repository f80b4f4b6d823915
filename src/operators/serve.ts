import { asyncScheduler, defer, delay, from, fromEvent, groupBy, mergeMap, Observable, of, take, takeUntil } from 'rxjs';
import type { ObservableInput, OperatorFunction, SchedulerLike, Subscriber, Subscription } from 'rxjs';
import { RESOURCE_ERRORS } from '../classify';
import type { AcceptError, Accepted } from '../result';
import { checkDelay, checkFunction } from '../validate';
import type { Admitted } from './backpressure';

/** How {@link serve} reports a handler that failed. */
export interface ServeOptions<C extends Accepted> {
  /**
   * Called with a handler's error and its connection; the loop goes on. Default: one line on
   * stderr (`connection handler failed for ADDRESS:PORT: ...`). An exception it throws errors the stream.
   */
  onError?: (error: unknown, connection: C) => void;
  /**
   * Graceful shutdown: when it aborts, stop accepting (the source is unsubscribed, which closes
   * the listener and the connections still waiting in {@link backpressure}'s queue), let live
   * connections finish for up to `graceMs`, then end the rest (their sockets destroyed, tokens
   * released) and complete. Connections whose protocol marks them idle ({@link Token.idle}:
   * {@link handTo} does for HTTP/1) are closed as soon as they are idle, now or later in the
   * grace, and HTTP responses meanwhile carry `Connection: close`.
   */
  signal?: AbortSignal;
  /** How long live connections may finish after `signal` aborts. Default 10 000 ms. */
  graceMs?: number;
  /** Where the grace is timed. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/**
 * How many `mergeMap`s share the live connections. RxJS removes a finished inner subscription
 * from its `mergeMap`'s list with indexOf and splice: with one `mergeMap` every close costs
 * O(live connections). Dealt round-robin to 256 of them, a close scans about live / 256 (measured
 * in `bench/micro.ts`: 39 µs per close and new connection at 15 000 live with one, 2.3 µs with
 * 256, 0.6 µs at 100 either way).
 */
const SHARDS = 256;

function logHandlerError(error: unknown, connection: Accepted): void {
  const { remoteAddress, remotePort } = connection.socket;
  console.error(`connection handler failed for ${remoteAddress ?? 'a peer'}:${remotePort ?? ''}:`, error);
}

/**
 * Runs `handler` for every connection, all at once, through `mergeMap` (the limit is applied
 * before, by {@link backpressure}, so `mergeMap` never queues; connections are dealt among 256
 * `mergeMap`s so that a close costs the same at 100 or 15 000 live connections). A connection lives until the
 * handler's Observable (or Promise) completes or errors, or, when the handler returns nothing,
 * until its socket closes (the way to hand sockets to `http.Server`). Whichever way it ends,
 * and on unsubscription, a finalizer releases its token and destroys its socket, so no path
 * leaks a slot or a descriptor. A handler that throws or errors is reported through `onError`
 * and the loop goes on; a resource shortage it meets (EMFILE, ENFILE, ENOBUFS, ENOMEM) goes to
 * the listener instead, so that `logWarnings` logs it once and `handleErrors` pauses on it.
 * Emits what the handlers emit.
 *
 * ```
 * admitted:   -a---b-----|
 * handler a:   ---x|              a's handler emits x and completes: a's token released
 * handler b:       --#            reported, b's token released, the loop goes on
 * output:     ----x------|
 * ```
 *
 * @example
 * const app = createServer((req, res) => res.end('hello\n')); // never listens itself
 * listen({ port: 8080 }).pipe(handleErrors(), backpressure(100), serve(({ socket }) => void app.emit('connection', socket)))
 *   .subscribe();
 * // Output: every client gets "hello"; each connection holds its slot until its socket closes.
 *
 * @param handler Serves one connection: returns what ends it, or nothing to let the socket's close end it.
 * @param options Where handler errors go.
 * @returns An operator from connections to whatever the handlers emit.
 */
export function serve<T = never, C extends Accepted = Admitted>(
  handler: (connection: C) => ObservableInput<T> | void,
  options: ServeOptions<C> = {},
): OperatorFunction<C, T> {
  checkFunction('serve: handler', handler);
  const onError = options.onError ?? logHandlerError;
  checkFunction('serve: options.onError', onError);
  const { signal, graceMs = 10_000, scheduler = asyncScheduler } = options;
  checkDelay('serve: options.graceMs', graceMs);
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`serve: options.signal must be an AbortSignal, got ${String(signal)}`);
  }
  let dealt = 0;
  const run = (source: Observable<C>): Observable<T> =>
    source.pipe(
      groupBy(() => (dealt = (dealt + 1) % SHARDS)),
      mergeMap((shard) => shard.pipe(mergeMap((connection: C) => lifetime(connection, handler, onError)))),
    );
  if (signal === undefined) return run;

  const aborted = defer(() => (signal.aborted ? of(true) : fromEvent(signal, 'abort').pipe(take(1))));
  return (source) => source.pipe(takeUntil(aborted), run, takeUntil(aborted.pipe(delay(graceMs, scheduler))));
}

/**
 * One connection's life as a single Observable (one subscriber per connection rather than a
 * defer/catchError/finalize chain: a live connection's memory is what a server holds the most).
 */
function lifetime<T, C extends Accepted>(
  connection: C,
  handler: (connection: C) => ObservableInput<T> | void,
  onError: (error: unknown, connection: C) => void,
): Observable<T> {
  return new Observable<T>((subscriber) => {
    const { socket } = connection;
    const end = (): void => subscriber.complete();
    let served: Subscription | undefined;
    try {
      const result = handler(connection);
      // Lives until its socket closes; one that closed already (say, after an asynchronous
      // operator upstream) ends now, or its 'close' would never come.
      if (result === undefined) socket.closed ? end() : socket.on('close', end);
      else served = from(result).subscribe({ next: (value) => subscriber.next(value), error: (error) => report(error, connection, onError, subscriber), complete: end });
    } catch (error) {
      report(error, connection, onError, subscriber);
    }
    return () => {
      served?.unsubscribe();
      socket.off('close', end);
      (connection as Partial<Admitted>).token?.release();
      socket.destroy();
    };
  });
}

/**
 * Reports a handler's error and ends its connection; an `onError` that throws ends the loop.
 * A resource shortage (EMFILE: the handler could not open a file) is the loop's business, not
 * the connection's: it goes to the listener, to be logged once per window and paused on.
 */
function report<C extends Accepted>(error: unknown, connection: C, onError: (error: unknown, connection: C) => void, subscriber: Subscriber<unknown>): void {
  try {
    const code = (error as AcceptError | undefined)?.code;
    if (code !== undefined && RESOURCE_ERRORS.has(code)) connection.listener.report(error as AcceptError);
    else onError(error, connection);
  } catch (thrown) {
    return subscriber.error(thrown);
  }
  subscriber.complete();
}
