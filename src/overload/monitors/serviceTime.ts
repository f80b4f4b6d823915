import type { Observable, SchedulerLike } from 'rxjs';
import type { Limiter } from '../../limit/limiter';
import { sampleLoop } from './sample';

/**
 * What one exchange costs the event loop, in ms, read every window: the loop's busy time over
 * the exchanges the limiter saw complete in it ({@link Limiter.completed}; a window with none
 * counts as one). It is everything the process did per exchange (accept, parse, handler,
 * garbage collection), so `target / serviceTime` is how many exchanges the process can hold and
 * still finish each within `target` ms (Little's law): what {@link targetLimit} sets. Waiting
 * on I/O costs nothing here, so servers whose handlers mostly wait are not held back. Windows
 * are `every` ms while the loop is more than half busy and double up to `idleEvery` ms while it
 * is not.
 *
 * @param limiter Whose completed exchanges to count.
 * @param every The window under load, ms. Default 100 (about 20 exchanges for a 5 ms handler).
 * @param scheduler Where windows are timed. Default `asyncScheduler`.
 * @param idleEvery The window while at most half busy, ms. Default 500.
 * @returns Cold: it runs only while subscribed.
 */
export function serviceTime(limiter: Limiter, every = 100, scheduler?: SchedulerLike, idleEvery = 500): Observable<number> {
  return sampleLoop('serviceTime', every, scheduler, idleEvery, () => {
    let completed = limiter.completed;
    return (window) => {
      const exchanges = limiter.completed - completed;
      completed += exchanges;
      return window.active / Math.max(1, exchanges);
    };
  });
}
