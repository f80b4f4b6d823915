import { asyncScheduler, defer, finalize, map, repeat, tap, timer, type Observable, type SchedulerLike } from 'rxjs';
import { checkInteger } from '../validate';

/**
 * What every monitor shares: a reading every `ms`, taken only while subscribed. `start` runs at
 * subscription and returns the reader (and may set up what it reads); `stop` runs at
 * unsubscription. With `idleMs`, readings at or below `calm` stretch the period to `idleMs`, so
 * a monitor that must react fast under load costs next to nothing while the process is idle.
 */
export function sampleEvery(
  name: string,
  ms: number,
  scheduler: SchedulerLike = asyncScheduler,
  start: () => () => number,
  stop?: () => void,
  calm?: { idleMs: number; below: number },
): Observable<number> {
  checkInteger(`${name}: every`, ms, 1);
  return defer(() => {
    const read = start();
    let period = ms;
    return defer(() => timer(period, scheduler)).pipe(
      map(() => read()),
      tap((value) => calm !== undefined && (period = value <= calm.below ? calm.idleMs : ms)),
      repeat(),
      finalize(() => stop?.()),
    );
  });
}
