import { defer, finalize, merge, type Observable } from 'rxjs';
import { acceptStreak } from '../../source/acceptStreak';
import { settleOptions, type MonitorOptions } from './options';
import { sampleEvery } from './sample';

/**
 * How long, in ms, the kernel's accept queue has held a connection without a break: the longest
 * a connection accepted now can have waited there, unseen by the process (see `acceptStreak`).
 *
 * Node takes one connection from a listening socket per loop turn, so while clients arrive
 * faster than the loop turns they queue in the kernel, where no event-loop measure sees them.
 * It reads at the end of every turn that took a connection (0 after a turn that found none
 * waiting), and every `every` ms while above 0, doubling up to `idleEvery` while 0. It counts the
 * connections of every {@link index!listen} and {@link index!fromServer} in the process; requests
 * over connections already accepted do not raise it ({@link index!LimiterOptions.maxWaitMs} sheds
 * those). A pause on it with the listener's `refuse` option empties the queue with `503`s.
 *
 * @example
 * pauseUnderPressure([{ name: 'acceptQueue', samples: acceptQueueMs(10), above: 100, below: 0, unit: 'ms' }]);
 *
 * @param options `every` as a number, or {@link MonitorOptions}: `every` defaults to 10 ms,
 *   `idleEvery` to 100 ms (or `every` if longer).
 * @returns Cold: it runs only while subscribed.
 * @throws {TypeError | RangeError} At call time, on an option out of range, naming it and its value.
 */
export function acceptQueueMs(options?: number | MonitorOptions): Observable<number> {
  const settled = settleOptions('acceptQueueMs', options, { every: 10, idleEvery: 100 });
  // A turn's reading comes at once, so a streak is seen the turn it passes a threshold however
  // long the period has stretched; the periods read the 0s (a paused listener takes nothing).
  return defer(() => {
    const unwatch = acceptStreak.watch();
    return merge(acceptStreak.turns, sampleEvery({ ...settled, calm: (ms) => ms === 0 }, () => () => acceptStreak.ms())).pipe(finalize(unwatch));
  });
}
