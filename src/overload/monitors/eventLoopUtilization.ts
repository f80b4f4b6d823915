import type { Observable, SchedulerLike } from 'rxjs';
import { settleOptions, type MonitorOptions } from './options';
import { sampleLoop } from './sample';

const DEFAULTS = { every: 20, idleEvery: 500 };

/**
 * Event-loop utilization, a share, 0 to 1: how much of each window the event loop was busy.
 *
 * It is `performance.eventLoopUtilization` as a difference between windows, not the average
 * since start. Windows are `every` ms while the loop is more than half busy, and double up to
 * `idleEvery` ms while it is not, so that saturation is seen within `every` ms without waking
 * an idle process often.
 *
 * @example
 * pauseUnderPressure([{ name: 'eventLoopUtilization', samples: eventLoopUtilization(20), above: 0.9 }]);
 * eventLoopUtilization({ every: 50, idleEvery: 1000 });
 *
 * @param options `every` as a number, or an object:
 *   `every`, the window while the loop is more than half busy, ms (default 20);
 *   `idleEvery`, the longest window while it is at most half busy, ms (default 500, or `every` if longer);
 *   `scheduler`, where windows are timed (default `asyncScheduler`).
 * @returns Cold: it runs only while subscribed.
 * @throws {TypeError | RangeError} At call time, on an option out of range, naming it and its value.
 */
export function eventLoopUtilization(options?: number | MonitorOptions): Observable<number>;
/**
 * Event-loop utilization over each window, a share, 0 to 1: the positional form.
 *
 * @deprecated Use eventLoopUtilization({ every, scheduler, idleEvery }) instead; removed in 0.3.
 *
 * @example
 * eventLoopUtilization(20, undefined, 1000); // now: eventLoopUtilization({ every: 20, idleEvery: 1000 })
 *
 * @param every The window while the loop is more than half busy, ms. Default 20.
 * @param scheduler Where windows are timed. Default `asyncScheduler`.
 * @param idleEvery The longest window while it is at most half busy, ms. Default 500, or `every` if longer.
 * @returns Cold: it runs only while subscribed.
 */
export function eventLoopUtilization(every: number | undefined, scheduler: SchedulerLike | undefined, idleEvery?: number): Observable<number>;
export function eventLoopUtilization(options?: number | MonitorOptions, ...positional: [scheduler?: SchedulerLike, idleEvery?: number]): Observable<number> {
  const settled =
    positional.length > 0
      ? settleOptions({ name: 'eventLoopUtilization', positional: true }, { every: options as number | undefined, scheduler: positional[0], idleEvery: positional[1] }, DEFAULTS)
      : settleOptions({ name: 'eventLoopUtilization' }, options, DEFAULTS);
  return sampleLoop(settled, () => (window) => window.utilization);
}
