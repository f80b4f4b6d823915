import type { Observable, SchedulerLike } from 'rxjs';
import { sampleEvery } from './sample';

/**
 * Event-loop delay: how late a timer fired, in ms, once per window (the recent past, not an
 * average since start). A loop kept busy (CPU-bound handlers, a GC storm) fires it late by as
 * long as it was blocked. Windows are `every` ms while delays exceed 10 ms, and double up to
 * `idleEvery` ms while they do not: one timer per window and nothing in between, so an idle process is
 * hardly woken. (`perf_hooks.monitorEventLoopDelay` sees shorter stalls, but its 10 ms
 * sampling timer alone cost about 1% of a core here.)
 *
 * @param every The window under delay, ms. Default 100.
 * @param scheduler Where windows are timed. Default `asyncScheduler`.
 * @param idleEvery The window while delays stay under 10 ms. Default 500.
 * @returns Cold: it runs only while subscribed.
 */
export function eventLoopDelay(every = 100, scheduler?: SchedulerLike, idleEvery = 500): Observable<number> {
  return sampleEvery('eventLoopDelay', every, scheduler, () => {
    let last = performance.now();
    return (waited) => {
      const now = performance.now();
      const late = Math.max(0, now - last - waited);
      last = now;
      return late;
    };
  }, undefined, { idleMs: idleEvery, calm: (late) => late <= 10 });
}
