import type { Observable, SchedulerLike } from 'rxjs';
import { sampleLoop } from './sample';

/**
 * Event-loop utilization over each window: the share of the time the loop was busy, 0 to 1
 * (`performance.eventLoopUtilization`, as a difference between windows, not the average since
 * start). Windows are `every` ms while the loop is more than half busy, and double up to
 * `idleEvery` ms while it is not, so that saturation is seen within `every` ms without waking an idle process
 * often.
 *
 * @param every The window under load, ms. Default 20.
 * @param scheduler Where windows are timed. Default `asyncScheduler`.
 * @param idleEvery The window while at most half busy, ms. Default 500.
 */
export function eventLoopUtilization(every = 20, scheduler?: SchedulerLike, idleEvery = 500): Observable<number> {
  return sampleLoop('eventLoopUtilization', every, scheduler, idleEvery, () => (window) => window.utilization);
}
