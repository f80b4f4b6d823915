import { defer, finalize, merge, type Observable } from 'rxjs';
import { acceptStreak } from '../../source/acceptStreak';
import { settleOptions, type MonitorOptions } from './options';
import { sampleEvery } from './sample';

/**
 * How long, in ms, the kernel's accept queue has held a connection without a break, each
 * window: the longest a new connection accepted now can have waited there, unseen by the
 * process.
 *
 * It reads at the end of every loop turn that took a connection, and every `every` ms.
 * Node takes one connection from a listening socket per event-loop turn, so while clients
 * arrive faster than the loop turns (a CPU-bound handler under a flood of new connections) they
 * queue in the kernel, where no event-loop measure sees them (the loop's delay stays at one
 * handler's run). This reads how long every turn has found one waiting (see `acceptStreak`):
 * 0 after a turn that found none. It counts the connections of every {@link index!listen} and
 * {@link index!fromServer} in the process. Requests over connections already accepted (keep-alive) do
 * not raise it: they wait in the loop, and {@link index!LimiterOptions.maxWaitMs} sheds them. A pause
 * on it ({@link pauseUnderPressure}) with the listener's `refuse` option empties the queue with
 * `503`s before the listening socket closes. Periods are `every` ms while it reads above 0,
 * doubling up to `idleEvery` ms while it reads 0.
 *
 * @example
 * pauseUnderPressure([{ name: 'acceptQueue', samples: acceptQueueMs(10), above: 100, below: 0, unit: 'ms' }]);
 *
 * @param options `every` as a number, or an object:
 *   `every`, the window while it reads above 0, ms (default 10);
 *   `idleEvery`, the longest window while it reads 0, ms (default 100, or `every` if longer);
 *   `scheduler`, where windows are timed (default `asyncScheduler`).
 * @returns Cold: it runs only while subscribed.
 * @throws {TypeError | RangeError} At call time, on an option out of range, naming it and its value.
 */
export function acceptQueueMs(options?: number | MonitorOptions): Observable<number> {
  const settled = settleOptions('acceptQueueMs', options, { every: 10, idleEvery: 100 });
  // Each turn that took a connection reads at once, so a streak is seen the turn it passes a
  // threshold, however long the period has stretched; the periods read the 0s (a paused
  // listener takes nothing, and a pause ends on a reading).
  return defer(() => {
    const unwatch = acceptStreak.watch();
    return merge(acceptStreak.turns, sampleEvery({ ...settled, calm: (ms) => ms === 0 }, () => () => acceptStreak.ms())).pipe(finalize(unwatch));
  });
}
