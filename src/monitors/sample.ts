import { asyncScheduler, defer, finalize, interval, map, type Observable, type SchedulerLike } from 'rxjs';
import { checkInteger } from '../validate';

/**
 * What every monitor shares: a reading every `ms`, taken only while subscribed. `start` runs at
 * subscription and returns the reader (and may set up what it reads, e.g. a histogram);
 * `stop` runs at unsubscription.
 */
export function sampleEvery(
  name: string,
  ms: number,
  scheduler: SchedulerLike = asyncScheduler,
  start: () => () => number,
  stop?: () => void,
): Observable<number> {
  checkInteger(`${name}: every`, ms, 1);
  return defer(() => {
    const read = start();
    return interval(ms, scheduler).pipe(
      map(() => read()),
      finalize(() => stop?.()),
    );
  });
}
