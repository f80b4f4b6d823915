import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { Observable, SchedulerLike } from 'rxjs';
import { sampleEvery } from './sample';

/**
 * Event-loop delay: the longest a 10 ms timer was late during each `every` ms window, in ms
 * (`perf_hooks.monitorEventLoopDelay`, reset each window: the recent past, not since start).
 * A saturated loop (CPU-bound handlers, a GC storm) shows here first: everything it serves
 * waits that long. A window with no reading yet (the loop blocked throughout) reports how long
 * the window itself was overdue, so a stall is never read as 0.
 *
 * @param every The window, ms. Default 100.
 * @param scheduler Where windows are timed. Default `asyncScheduler`.
 * @returns Cold: the histogram runs only while subscribed.
 */
export function eventLoopDelay(every = 100, scheduler?: SchedulerLike): Observable<number> {
  let histogram: IntervalHistogram | undefined;
  return sampleEvery(
    'eventLoopDelay',
    every,
    scheduler,
    () => {
      histogram = monitorEventLoopDelay({ resolution: 10 });
      histogram.enable();
      let last = performance.now();
      return () => {
        const now = performance.now();
        const overdue = Math.max(0, now - last - every);
        last = now;
        const worst = histogram!.count > 0 ? histogram!.max / 1e6 : 0;
        histogram!.reset();
        return Math.max(worst, overdue);
      };
    },
    () => histogram?.disable(),
  );
}
