import type { Observable } from 'rxjs';
import { settleOptions, type MonitorOptions } from './options';
import { sampleEvery } from './sample';

/**
 * Event-loop delay, in ms: how late one timer fired in each window. Windows are `every` ms while
 * delays exceed 10 ms, doubling up to `idleEvery` while not (`monitorEventLoopDelay`'s 10 ms timer
 * alone cost about 1% of a core). Flat while clients wait in the kernel: see {@link eventLoopBusyMs}.
 *
 * @example
 * pauseUnderPressure([{ name: 'eventLoopDelay', samples: eventLoopDelayMs(100), above: 100, unit: 'ms' }]);
 *
 * @param options `every` as a number, or an object: `every` defaults to 100 ms, `idleEvery` to 500 ms (or `every` if longer).
 */
export function eventLoopDelayMs(options?: number | MonitorOptions): Observable<number> {
  const settled = settleOptions('eventLoopDelayMs', options, { every: 100, idleEvery: 500 });
  return sampleEvery({ ...settled, calm: (late) => late <= 10 }, () => {
    let last = performance.now();
    return (waited) => {
      const now = performance.now();
      const late = Math.max(0, now - last - waited);
      last = now;
      return late;
    };
  });
}
