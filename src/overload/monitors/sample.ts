import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { asyncScheduler, defer, identity, map, repeat, tap, timer, type Observable } from 'rxjs';
import type { MonitorOptions } from './options';

/** The periods, checked ({@link settleOptions}), and whether a reading is calm given the one before (`NaN` at first). */
type SampleOptions = MonitorOptions & { every: number; calm?: (value: number, before: number) => boolean };

/**
 * What every monitor shares: a reading every `every` ms while subscribed, by the reader `start`
 * returns at subscription, told how long its window was meant to last. Calm readings double the
 * period up to `idleEvery`; any other brings it back to `every` at once.
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
 * What the event-loop monitors share: each window's `performance.eventLoopUtilization`, handed to
 * a reader; a window more than half busy is not calm.
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
