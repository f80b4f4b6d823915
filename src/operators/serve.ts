import { asyncScheduler, catchError, defer, delay, EMPTY, finalize, from, fromEvent, groupBy, mergeMap, of, Subject, take, takeUntil, throwError } from 'rxjs';
import type { Observable, ObservableInput, OperatorFunction, SchedulerLike, Subscriber } from 'rxjs';
import { RESOURCE_ERRORS } from '../errors/classify';
import { LinkedList, type Links } from '../util/linkedList';
import { SocketRecords } from '../util/socketRecords';
import type { AcceptError, Accepted } from '../errors/result';
import { checkDelay, checkFunction, checkInstance, checkKnownOptions, checkScheduler, optionNames } from '../util/validate';
import { forward, operate } from './internal/operate';
import type { Admitted } from './backpressure';

/** Options of {@link serve}: where handler errors go, and graceful shutdown. */
export interface ServeOptions<C extends Accepted> {
  /**
   * Called with a handler's error and its connection. Default: a line on stderr, `connection handler failed for ADDRESS:PORT: ...`.
   * An exception it throws errors the stream.
   */
  onError?: (error: unknown, connection: C) => void;
  /**
   * Graceful shutdown: when it aborts, the source is unsubscribed, live connections may finish for
   * up to `graceMs`, then the rest end; those marked idle ({@link Token.idle}) close as soon as they are.
   */
  signal?: AbortSignal;
  /** How long live connections may finish after `signal` aborts. Default 10 000 ms. */
  graceMs?: number;
  /** Where the grace is timed. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

// Streams are dealt to 256 `mergeMap`s: one removes an ended inner subscription by indexOf and splice, O(live) (`bench:micro`,
// an end and a start at 15 000 live: 41 µs with one, 19 µs with 256; 50 000 live: 77 and 26 µs; a handed-off one 1.3 and 1.6 µs).
const SHARDS = 256;

const OPTIONS = optionNames<ServeOptions<Accepted>>({ onError: true, signal: true, graceMs: true, scheduler: true });

function logHandlerError(error: unknown, connection: Accepted): void {
  const { remoteAddress, remotePort } = connection.socket;
  console.error(`connection handler failed for ${remoteAddress ?? 'a peer'}:${remotePort ?? ''}:`, error);
}

/**
 * Runs `handler` for every connection at once (the limit is {@link backpressure}'s). A connection
 * lives until the handler's Observable (or Promise) ends or, when it returns nothing (handing the
 * socket to `http.Server`), until its socket closes; then, or on unsubscription, its token is
 * released and its socket destroyed. A handler's error goes to `onError` and the loop goes on; a
 * resource shortage (EMFILE, ENFILE, ENOBUFS, ENOMEM) goes to the listener, for `logWarnings` and
 * `handleErrors`. Emits what the handlers emit; completes once the source and every connection have ended.
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
 * listen({ port: 8080 }).pipe(handleErrors(), backpressure(100), serve(({ socket }) => void app.emit('connection', socket))).subscribe();
 *
 * @param handler Serves one connection: returns what ends it, or nothing to let the socket's close end it.
 * @throws {TypeError | RangeError} At call time, on a handler or an option of the wrong type or out of range, naming it.
 */
export function serve<T = never, C extends Accepted = Admitted>(
  handler: (connection: C) => ObservableInput<T> | void,
  options: ServeOptions<C> = {},
): OperatorFunction<C, T> {
  checkFunction('serve: handler', handler);
  const { onError = logHandlerError, signal, graceMs = 10_000, scheduler = asyncScheduler } = checkKnownOptions('serve: options', options, OPTIONS);
  checkFunction('serve: options.onError', onError);
  checkDelay('serve: options.graceMs', graceMs);
  if (signal !== undefined) checkInstance('serve: options.signal', signal, AbortSignal);
  checkScheduler('serve: options.scheduler', scheduler);
  // A connection handed off (its handler returned nothing) is a record in a list until its socket
  // closes, removed in O(1): a subscription would hold about 540 B more and cost an O(live) removal.
  const run = operate((source: Observable<C>, subscriber: Subscriber<T>) => {
    const handedOff = new LinkedList<HandedOff<C>>();
    let streamsDone = false; // only after the source is
    const completeWhenAllEnded = (): void => {
      if (streamsDone && handedOff.size === 0) subscriber.complete();
    };
    const closed = (entry: HandedOff<C>): void => {
      if (!handedOff.remove(entry)) return; // ended on unsubscription already
      end(entry.connection);
      completeWhenAllEnded();
    };
    const streams = new Subject<Observable<T>>();

    let dealt = 0;
    subscriber.add(
      streams
        .pipe(
          groupBy(() => (dealt = (dealt + 1) % SHARDS)),
          mergeMap((shard) => shard.pipe(mergeMap((stream) => stream))),
        )
        .subscribe(
          forward(subscriber, (value: T) => subscriber.next(value), () => {
            streamsDone = true;
            completeWhenAllEnded();
          }),
        ),
    );
    subscriber.add(
      source.subscribe(
        forward(
          subscriber,
          (connection) => {
            const { socket } = connection;
            let stream: Observable<T> | undefined;
            try {
              const result = handler(connection);
              if (result !== undefined) stream = from(result);
            } catch (error) {
              stream = throwError(() => error); // it threw, or returned something not observable
            }
            if (stream !== undefined) return streams.next(lifetime(connection, stream, onError));
            // One that closed already (say, after an asynchronous operator upstream) ends now, or its 'close' would never come.
            if (socket.closed) return end(connection);
            const entry = new HandedOff(connection, closed);
            handedOff.push(entry);
            if (handedOffSockets.get(socket) === undefined) handedOffSockets.attach(socket, entry as HandedOff<unknown>);
            else socket.on('close', () => closed(entry)); // handed off by a second serve too: rare
          },
          () => streams.complete(),
        ),
      ),
    );
    return () => {
      // Each ends now; its 'close', which follows, finds it gone.
      for (let entry = handedOff.shift(); entry !== undefined; entry = handedOff.shift()) end(entry.connection);
    };
  });
  if (signal === undefined) return run;

  const aborted = defer(() => (signal.aborted ? of(true) : fromEvent(signal, 'abort').pipe(take(1))));
  return (source) => source.pipe(takeUntil(aborted), run, takeUntil(aborted.pipe(delay(graceMs, scheduler))));
}

class HandedOff<C> implements Links<HandedOff<C>> {
  prev: HandedOff<C> | undefined = undefined;
  next: HandedOff<C> | undefined = undefined;

  constructor(
    readonly connection: C,
    readonly closed: (entry: HandedOff<C>) => void,
  ) {}
}

const handedOffSockets = new SocketRecords<HandedOff<unknown>>('handed off', { close: (entry) => entry.closed(entry) });

/** Ends a connection: its token released, its socket destroyed (both idempotent). */
function end(connection: Accepted): void {
  (connection as Partial<Admitted>).token?.release();
  connection.socket.destroy();
}

/**
 * A connection whose handler returned a stream lives as long as it. A resource shortage the handler
 * meets (EMFILE: it could not open a file) is the loop's business: the listener logs it and pauses.
 */
function lifetime<T, C extends Accepted>(connection: C, stream: Observable<T>, onError: (error: unknown, connection: C) => void): Observable<T> {
  return stream.pipe(
    catchError((error: unknown) => {
      const code = (error as AcceptError | undefined)?.code;
      if (code !== undefined && RESOURCE_ERRORS.has(code)) connection.listener.report(error as AcceptError);
      else onError(error, connection); // what it throws ends the loop
      return EMPTY;
    }),
    finalize(() => end(connection)),
  );
}
