import type { Observable } from 'rxjs';
import { settleOptions, type MonitorOptions } from './options';
import { sampleLoop } from './sample';

/**
 * Event-loop utilization, a share, 0 to 1, of each window (not since start). Windows are `every`
 * ms while the loop is more than half busy, doubling up to `idleEvery` while it is not.
 *
 * @example
 * pauseUnderPressure([{ name: 'eventLoopUtilization', samples: eventLoopUtilization(20), above: 0.9 }]);
 *
 * @param options `every` as a number, or an object: `every` defaults to 20 ms, `idleEvery` to 500 ms (or `every` if longer).
 */
export function eventLoopUtilization(options?: number | MonitorOptions): Observable<number> {
  return sampleLoop(settleOptions('eventLoopUtilization', options, { every: 20, idleEvery: 500 }), () => (window) => window.utilization);
}
