import { asyncScheduler, finalize, race, take, timer, type Observable, type OperatorFunction, type SchedulerLike, type Subscriber } from 'rxjs';
import { classifyFailure } from '../errors/classify';
import type { Accepted, AcceptResult } from '../errors/result';
import { checkDelay, checkKnownOptions, checkScheduler, optionNames } from '../util/validate';
import { forward, operate } from './internal/operate';

/** How {@link handleErrors} pauses on shortage. */
export interface HandleErrorsOptions {
  /** The pause on a resource shortage, in ms. Default 500 (as async-listen, actix, nginx). */
  delay?: number;
  /** The pause doubles after each shortage in a row up to this, ms (Go's net/http: `delay: 5, maxDelay: 1000`). Default `delay`. */
  maxDelay?: number;
  /** Where the pauses are timed. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

const OPTIONS = optionNames<HandleErrorsOptions>({ delay: true, maxDelay: true, scheduler: true });

/**
 * Handles accept errors as a production accept loop must: skips per-connection errors, pauses
 * accepting on a resource shortage (and on any error it does not know), and errors the stream when
 * the listening socket itself is broken; emits only connections. A pause ends after its delay, or
 * sooner when the listener sees the shortage end (`relieved`: it re-checks open files).
 *
 * ```
 * results:  -c-x-r------c-c-|     c connection, x ECONNRESET, r EMFILE; a frame is 100 ms
 * paused:        [----]           500 ms from r
 * output:   -c----------c-c-|
 * ```
 *
 * @example
 * listen({ port: 8080 }).pipe(handleErrors(500)).subscribe(({ socket }) => socket.end('hi\n'));
 * // Output: every client gets "hi"; on EMFILE the listener closes for 500 ms, then listens again.
 *
 * @throws {TypeError | RangeError} At call time, on options neither an object nor a number, or a bad option, naming it.
 */
export function handleErrors(options: number | HandleErrorsOptions = {}): OperatorFunction<AcceptResult, Accepted> {
  const given = typeof options === 'number' ? { delay: options } : checkKnownOptions('handleErrors: options', options, OPTIONS, 'an object or a number of ms');
  const { delay = 500, maxDelay = delay, scheduler = asyncScheduler } = given;
  checkDelay('handleErrors: delay', delay);
  checkDelay('handleErrors: maxDelay', maxDelay);
  checkScheduler('handleErrors: options.scheduler', scheduler);
  if (maxDelay < delay) throw new RangeError(`handleErrors: maxDelay must be >= delay (${delay}), got ${maxDelay}`);

  // Hand-rolled rather than split with connect/filter: every connection passes through here,
  // and one subscriber with one type check is the cheapest way through.
  return operate((source: Observable<AcceptResult>, subscriber: Subscriber<Accepted>) => {
    let next = delay; // the next pause: grows while shortages come in a row
    return source.subscribe(
      forward(subscriber, (result) => {
        if (result.type === 'connection') {
          next = delay;
          return subscriber.next(result);
        }
        const kind = classifyFailure(result);
        if (kind === 'fatal') return subscriber.error(result.error);
        if (kind !== 'resource') return;
        const pause = timer(next, scheduler);
        next = Math.min(next * 2, maxDelay);
        // A pause that throws errors the stream; unsubscribing ends one (a closed listener ignores the resume).
        const resume = result.listener.pause('shortage');
        subscriber.add((result.relieved === undefined ? pause : race(pause, result.relieved)).pipe(take(1), finalize(resume)).subscribe());
      }),
    );
  });
}
