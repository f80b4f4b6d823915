import { filter, type Observable } from 'rxjs';
import type { Limiter } from '../../limit/limiter';
import { checkOptions } from '../../util/validate';
import { settleOptions, type MonitorOptions } from './options';
import { sampleLoop } from './sample';

/**
 * What one exchange costs the event loop, in ms, each window: busy time per completed exchange.
 *
 * It is the loop's busy time in the window over the exchanges the limiter saw complete in it
 * (`counts.completed` of the {@link index!Limiter}). A window in which none completed reads its busy
 * time (an exchange under way costs at least that) only if the loop was more than half busy,
 * and nothing otherwise: an idle process would read the cost of its timers as the cost of an
 * exchange and teach {@link targetLimit} that exchanges are nearly free, so that the next
 * burst is admitted into a queue many times its target (measured: p99 256, 621, 729 ms over
 * three overloads back to back). Everything the process did per
 * exchange (accept, parse, handler, garbage collection), so `target / serviceTimeMs` is how
 * many exchanges the process can hold and still finish each within `target` ms (Little's law):
 * what {@link targetLimit} sets. Waiting on I/O costs nothing here, so servers whose handlers
 * mostly wait are not held back. Windows are `every` ms while the loop is more than half busy
 * and double up to `idleEvery` ms while it is not.
 *
 * @example
 * const limiter = new Limiter(1000);
 * targetLimit(limiter, serviceTimeMs(limiter), { target: 100 }).subscribe();
 * serviceTimeMs(limiter, { every: 200, idleEvery: 1000 });
 *
 * @param limiter Whose completed exchanges to count.
 * @param options `every` as a number, or an object:
 *   `every`, the window while the loop is more than half busy, ms (default 100: about 20
 *   exchanges for a 5 ms handler);
 *   `idleEvery`, the longest window while it is at most half busy, ms (default 500, or `every` if longer);
 *   `scheduler`, where windows are timed (default `asyncScheduler`).
 * @returns Cold: it runs only while subscribed.
 * @throws {TypeError | RangeError} At call time, on an option out of range, naming it and its value.
 */
export function serviceTimeMs(limiter: Limiter, options?: number | MonitorOptions): Observable<number> {
  checkOptions('serviceTimeMs: limiter', limiter);
  return sampleLoop(settleOptions('serviceTimeMs', options, { every: 100, idleEvery: 500 }), () => {
    let completed = limiter.counts.completed;
    return (window) => {
      const exchanges = limiter.counts.completed - completed;
      completed += exchanges;
      return exchanges > 0 ? window.active / exchanges : window.utilization > 0.5 ? window.active : NaN;
    };
  }).pipe(filter((cost) => !Number.isNaN(cost))); // a quiet window says nothing
}
