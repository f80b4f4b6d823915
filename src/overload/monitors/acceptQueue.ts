import { defer, finalize, merge, type Observable } from 'rxjs';
import { acceptStreak } from '../../source/acceptStreak';
import { settleOptions, type MonitorOptions } from './options';
import { sampleEvery } from './sample';

/**
 * How long, in ms, the kernel's accept queue has held a connection without a break: the longest a
 * connection accepted now waited there, unseen by any event-loop measure (Node takes one per loop
 * turn; see `acceptStreak`). Read at the end of every turn that took one, and every `every` ms
 * while above 0, doubling up to `idleEvery` while 0; for every listener in the process.
 *
 * @example
 * pauseUnderPressure([{ name: 'acceptQueue', samples: acceptQueueMs(10), above: 100, below: 0, unit: 'ms' }]);
 *
 * @param options `every` as a number, or an object: `every` defaults to 10 ms, `idleEvery` to 100 ms (or `every` if longer).
 */
export function acceptQueueMs(options?: number | MonitorOptions): Observable<number> {
  const settled = settleOptions('acceptQueueMs', options, { every: 10, idleEvery: 100 });
  // A turn's reading comes at once, however long the period has stretched; the periods read the 0s.
  return defer(() => {
    const unwatch = acceptStreak.watch();
    return merge(acceptStreak.turns, sampleEvery({ ...settled, calm: (ms) => ms === 0 }, () => () => acceptStreak.ms())).pipe(finalize(unwatch));
  });
}
