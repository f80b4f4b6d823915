import { filter, type Observable } from 'rxjs';
import type { Limiter } from '../../limit/limiter';
import { checkOptions } from '../../util/validate';
import { settleOptions, type MonitorOptions } from './options';
import { sampleLoop } from './sample';

/**
 * What one exchange costs the event loop, in ms, each window: the loop's busy time over the
 * exchanges the {@link index!Limiter} saw complete in it (accept, parse, handler, garbage
 * collection; waiting on I/O costs nothing). So `target / serviceTimeMs` exchanges can be held
 * and each still finish within `target` ms (Little's law): what {@link targetLimit} sets. A window
 * in which none completed reads its busy time only if the loop was more than half busy, else
 * nothing: an idle process's timers read as an exchange's cost would teach `targetLimit` that
 * exchanges are nearly free (measured: p99 256, 621, 729 ms over three overloads back to back).
 * Windows are `every` ms while the loop is more than half busy, doubling up to `idleEvery` while it is not.
 *
 * @example
 * const limiter = new Limiter(1000);
 * targetLimit(limiter, serviceTimeMs(limiter), { target: 100 }).subscribe();
 *
 * @param limiter Whose completed exchanges to count.
 * @param options `every` as a number, or {@link MonitorOptions}: `every` defaults to 100 ms (about
 *   20 exchanges for a 5 ms handler), `idleEvery` to 500 ms (or `every` if longer).
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
