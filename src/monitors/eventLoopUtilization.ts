import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { Observable, SchedulerLike } from 'rxjs';
import { sampleEvery } from './sample';

/**
 * Event-loop utilization over each `every` ms window: the share of the time the loop was busy,
 * 0 to 1 (`performance.eventLoopUtilization`, as a difference between windows, not the
 * average since start).
 *
 * @param every The window, ms. Default 500.
 * @param scheduler Where windows are timed. Default `asyncScheduler`.
 */
export function eventLoopUtilization(every = 500, scheduler?: SchedulerLike): Observable<number> {
  return sampleEvery('eventLoopUtilization', every, scheduler, () => {
    let last: EventLoopUtilization = performance.eventLoopUtilization();
    return () => {
      const now = performance.eventLoopUtilization();
      const { utilization } = performance.eventLoopUtilization(now, last);
      last = now;
      return utilization;
    };
  });
}
