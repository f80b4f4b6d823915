import { filter, type Observable } from 'rxjs';
import type { Limiter } from '../../limit/limiter';
import { checkOptions } from '../../util/validate';
import { settleOptions, type MonitorOptions } from './options';
import { sampleLoop } from './sample';

// A reading spans windows until this many exchanges completed in them: a window in which one or
// two completed (a pause's batch being served, a burst's tail) read alone as if each cost half the
// window, and under a retry storm the limit fell to 1 (bench/RESULTS.md 20).
const MIN_EXCHANGES = 8;

/**
 * What one exchange costs the event loop, in ms: busy time over the exchanges the
 * {@link index!Limiter} saw complete (waiting on I/O costs nothing), for {@link targetLimit}. A
 * reading spans windows until 8 exchanges completed in them. A window with none completed since
 * the last reading reads its busy time, as one exchange's, only if the loop was more than half
 * busy: an idle process's timers read as an exchange's cost let the next burst in (measured: p99
 * 256 to 729 ms).
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
    let active = 0; // ms, of the windows the next reading spans
    return (window) => {
      const exchanges = limiter.counts.completed - completed;
      if (exchanges === 0) return window.utilization > 0.5 ? window.active : NaN;
      active += window.active;
      if (exchanges < MIN_EXCHANGES) return NaN;
      completed += exchanges;
      const cost = active / exchanges;
      active = 0;
      return cost;
    };
  }).pipe(filter((cost) => !Number.isNaN(cost))); // a quiet window says nothing
}
