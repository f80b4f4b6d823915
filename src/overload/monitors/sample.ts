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
  /** Whether a reading is calm, given the one before (`NaN` at first). Default: none is. */
  calm?: (value: number, before: number) => boolean;
}

/**
 * What every monitor shares: a reading every `every` ms, taken only while subscribed. `start`
 * runs at each subscription and returns the reader, which is told how long the window it reads
 * was meant to last. Calm readings double the period up to `idleEvery` (one calm reading between
 * two pauses must not blind it for long); any other brings it back to `every` at once.
 *
 * @example
 * // Resident MiB every 100 ms at 100 MiB or more; below, the period doubles up to 5 s.
 * sampleEvery({ every: 100, idleEvery: 5000, calm: (mib) => mib < 100 }, () => () => process.memoryUsage.rss() / 2 ** 20);
 */
export function sampleEvery(options: SampleOptions, start: () => (waited: number) => number): Observable<number> {
  const { every, idleEvery = every, scheduler = asyncScheduler, calm } = options;
  return defer(() => {
    const read = start();
    let period = every;
    let before = NaN;
    const stretch =
      calm === undefined || idleEvery <= every
        ? identity // a monitor that never stretches pays nothing for it
        : tap<number>((value) => {
            period = calm(value, before) ? Math.min(idleEvery, period * 2) : every;
            before = value;
          });
    return defer(() => timer(period, scheduler)).pipe(
      map(() => read(period)),
      stretch,
      repeat(),
    );
  });
}

/**
 * What the event-loop monitors share: each window's `performance.eventLoopUtilization`
 * difference, handed to a reader. Windows are `every` ms while the loop is more than half busy,
 * doubling up to `idleEvery` ms while it is not.
 *
 * @example
 * sampleLoop({ every: 20, idleEvery: 500 }, () => (window) => window.utilization); // eventLoopUtilization
 */
export function sampleLoop(options: Omit<SampleOptions, 'calm'>, start: () => (window: EventLoopUtilization) => number): Observable<number> {
  return defer(() => {
    let utilization = 0; // of the last window, for the next one's length
    return sampleEvery({ ...options, calm: () => utilization <= 0.5 }, () => {
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
