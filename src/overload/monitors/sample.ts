import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { asyncScheduler, defer, finalize, map, repeat, tap, timer, type Observable, type SchedulerLike } from 'rxjs';
import { checkInteger } from '../../util/validate';

/**
 * What every monitor shares: a reading every `ms`, taken only while subscribed. `start` runs at
 * subscription and returns the reader, which is told how long the window it reads was meant to
 * last (and may set up what it reads); `stop` runs at unsubscription. With `calm`, readings that
 * `calm.calm` accepts stretch the period, doubling up to `calm.idleMs`, so a monitor that must
 * react fast under load costs next to nothing while the process is idle.
 */
export function sampleEvery(
  name: string,
  ms: number,
  scheduler: SchedulerLike = asyncScheduler,
  start: () => (waited: number) => number,
  stop?: () => void,
  calm?: { idleMs: number; calm: (value: number) => boolean },
): Observable<number> {
  checkInteger(`${name}: every`, ms, 1);
  return defer(() => {
    const read = start();
    let period = ms;
    return defer(() => timer(period, scheduler)).pipe(
      map(() => read(period)),
      // Calm readings double the window up to idleMs (one calm reading between two pauses must
      // not blind it for long); any other brings it back to `ms` at once.
      tap((value) => calm !== undefined && (period = calm.calm(value) ? Math.min(calm.idleMs, period * 2) : ms)),
      repeat(),
      finalize(() => stop?.()),
    );
  });
}

/**
 * What the event-loop monitors share: each window's `performance.eventLoopUtilization`
 * difference handed to the reader, and windows of `every` ms while the loop is more than half
 * busy, doubling up to `idleEvery` ms while it is not.
 */
export function sampleLoop(
  name: string,
  every: number,
  scheduler: SchedulerLike | undefined,
  idleEvery: number,
  start: () => (window: EventLoopUtilization) => number,
): Observable<number> {
  checkInteger(`${name}: every`, every, 1);
  checkInteger(`${name}: idleEvery`, idleEvery, every);
  return defer(() => {
    let utilization = 0; // of the last window, for the next one's length
    return sampleEvery(name, every, scheduler, () => {
      const read = start();
      let last = performance.eventLoopUtilization();
      return () => {
        const now = performance.eventLoopUtilization();
        const window = performance.eventLoopUtilization(now, last);
        last = now;
        utilization = window.utilization;
        return read(window);
      };
    }, undefined, { idleMs: idleEvery, calm: () => utilization <= 0.5 });
  });
}
