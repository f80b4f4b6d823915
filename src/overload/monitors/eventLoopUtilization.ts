import type { Observable } from 'rxjs';
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
export function eventLoopUtilization(options?: number | MonitorOptions): Observable<number> {
  return sampleLoop(settleOptions('eventLoopUtilization', options, DEFAULTS), () => (window) => window.utilization);
}
