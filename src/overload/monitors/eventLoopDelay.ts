import type { Observable } from 'rxjs';
import { settleOptions, type MonitorOptions } from './options';
import { sampleEvery } from './sample';

/** A window with a delay at most this (ms) is calm: the next window is longer. */
const CALM_MS = 10;

/**
 * Event-loop delay, in ms: how late a timer fired in each window.
 *
 * Each reading is the recent past, not an average since start. A loop kept busy (CPU-bound
 * handlers, a GC storm) fires it late by as long as it was blocked. Windows are `every` ms
 * while delays exceed 10 ms, and double up to `idleEvery` ms while they do not: one timer per
 * window and nothing in between, so an idle process is hardly woken.
 * (`perf_hooks.monitorEventLoopDelay` sees shorter stalls, but its 10 ms sampling timer alone
 * cost about 1% of a core here.) It does not rise while clients wait in the kernel's accept
 * queue: see {@link eventLoopBusyMs}.
 *
 * @example
 * pauseUnderPressure([{ name: 'eventLoopDelay', samples: eventLoopDelayMs(100), above: 100, unit: 'ms' }]);
 * eventLoopDelayMs({ every: 50, idleEvery: 1000 }); // a window of 50 ms under delay, up to 1 s while calm
 *
 * @param options `every` as a number, or an object:
 *   `every`, the window while delays exceed 10 ms, ms (default 100);
 *   `idleEvery`, the longest window while they do not, ms (default 500, or `every` if longer);
 *   `scheduler`, where windows are timed (default `asyncScheduler`).
 * @returns Cold: it runs only while subscribed.
 * @throws {TypeError | RangeError} At call time, on an option out of range, naming it and its value.
 */
export function eventLoopDelayMs(options?: number | MonitorOptions): Observable<number> {
  const settled = settleOptions('eventLoopDelayMs', options, { every: 100, idleEvery: 500 });
  return sampleEvery({ ...settled, calm: (late) => late <= CALM_MS }, () => {
    let last = performance.now();
    return (waited) => {
      const now = performance.now();
      const late = Math.max(0, now - last - waited);
      last = now;
      return late;
    };
  });
}
