import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { asyncScheduler, defer, identity, map, repeat, tap, timer, type Observable, type SchedulerLike } from 'rxjs';

/** Options of {@link sampleEvery}, checked by the monitor that passes them ({@link settleOptions}). */
export interface SampleOptions {
  /** The period, ms, while readings are not calm. */
  every: number;
  /** The longest period, ms, that calm readings stretch it to. Default `every` (it never stretches). */
  idleEvery?: number;
  /** Where periods are timed. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** Whether a reading is calm. Default: none is. */
  calm?: (value: number) => boolean;
}

/**
 * What every monitor shares: a reading every `every` ms, taken only while subscribed.
 *
 * `start` runs at each subscription and returns the reader, which is told how long the window
 * it reads was meant to last (and may set up what it reads). With `calm`, calm readings stretch
 * the period, doubling up to `idleEvery`, so a monitor that must react fast under load costs
 * next to nothing while the process is idle.
 *
 * @example
 * // Resident MiB every 100 ms at 100 MiB or more; below, the period doubles up to 5 s.
 * sampleEvery({ every: 100, idleEvery: 5000, calm: (mib) => mib < 100 }, () => () => process.memoryUsage.rss() / 2 ** 20);
 *
 * @param options The periods, the scheduler and what is calm.
 * @param start Called at subscription: returns the reader of one window.
 * @returns Cold: it runs only while subscribed.
 */
export function sampleEvery(options: SampleOptions, start: () => (waited: number) => number): Observable<number> {
  const { every, idleEvery = every, scheduler = asyncScheduler, calm } = options;
  return defer(() => {
    const read = start();
    let period = every;
    // Calm readings double the window up to idleEvery (one calm reading between two pauses must
    // not blind it for long); any other brings it back to `every` at once. A monitor that never
    // stretches pays nothing for it.
    const stretch =
      calm === undefined || idleEvery <= every
        ? identity
        : tap<number>((value) => (period = calm(value) ? Math.min(idleEvery, period * 2) : every));
    return defer(() => timer(period, scheduler)).pipe(
      map(() => read(period)),
      stretch,
      repeat(),
    );
  });
}

/** Options of {@link sampleLoop}: checked by the monitor that passes them. */
export interface SampleLoopOptions {
  /** The window, ms, while the loop is more than half busy. */
  every: number;
  /** The longest window, ms, while it is at most half busy. */
  idleEvery: number;
  /** Where windows are timed. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/**
 * What the event-loop monitors share: each window's event-loop utilization, handed to a reader.
 *
 * The reader gets the window's `performance.eventLoopUtilization` difference. Windows are
 * `every` ms while the loop is more than half busy, doubling up to `idleEvery` ms while it is
 * not.
 *
 * @example
 * sampleLoop({ every: 20, idleEvery: 500 }, () => (window) => window.utilization); // eventLoopUtilization
 *
 * @param options The windows and the scheduler.
 * @param start Called at subscription: returns the reader of one window's utilization.
 * @returns Cold: it runs only while subscribed.
 */
export function sampleLoop(options: SampleLoopOptions, start: () => (window: EventLoopUtilization) => number): Observable<number> {
  const { every, idleEvery, scheduler } = options;
  return defer(() => {
    let utilization = 0; // of the last window, for the next one's length
    return sampleEvery({ every, idleEvery, scheduler, calm: () => utilization <= 0.5 }, () => {
      const read = start();
      let last = performance.eventLoopUtilization();
      return () => {
        const now = performance.eventLoopUtilization();
        const window = performance.eventLoopUtilization(now, last);
        last = now;
        utilization = window.utilization;
        return read(window);
      };
    });
  });
}
