import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Observable, SchedulerLike } from 'rxjs';
import { checkInteger } from '../validate';
import { sampleEvery } from './sample';

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
  checkInteger('eventLoopUtilization: idleEvery', idleEvery, every);
  return sampleEvery('eventLoopUtilization', every, scheduler, () => {
    let last: EventLoopUtilization = performance.eventLoopUtilization();
    return () => {
      const now = performance.eventLoopUtilization();
      const { utilization } = performance.eventLoopUtilization(now, last);
      last = now;
      return utilization;
    };
  }, undefined, { idleMs: idleEvery, calm: (utilization) => utilization <= 0.5 });
}
