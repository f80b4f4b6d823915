import { filter, type Observable } from 'rxjs';
import type { Limiter } from '../../limit/limiter';
import { checkOptions } from '../../util/validate';
import { settleOptions, type MonitorOptions } from './options';
import { sampleLoop } from './sample';

/**
 * What one exchange costs the event loop, in ms, each window: busy time over the exchanges the
 * {@link index!Limiter} saw complete (waiting on I/O costs nothing), for {@link targetLimit}. A
 * window without one reads its busy time only if the loop was more than half busy: an idle
 * process's timers read as an exchange's cost let the next burst in (measured: p99 256 to 729 ms).
 * Windows are `every` ms while the loop is more than half busy, doubling up to `idleEvery` while not.
 *
 * @example
 * targetLimit(limiter, serviceTimeMs(limiter), { target: 100 }).subscribe();
 *
 * @param options `every` as a number, or an object: `every` defaults to 100 ms, `idleEvery` to 500 ms (or `every` if longer).
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
