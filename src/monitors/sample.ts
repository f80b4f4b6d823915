import { asyncScheduler, defer, finalize, map, repeat, tap, timer, type Observable, type SchedulerLike } from 'rxjs';
import { checkInteger } from '../validate';

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
