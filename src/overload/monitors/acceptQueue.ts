import { defer, finalize, map, merge, type Observable } from 'rxjs';
import { acceptStreak } from '../../source/acceptStreak';
import { checkNumber } from '../../util/validate';
import { settleOptions, type MonitorOptions } from './options';
import { sampleEvery } from './sample';

/** Options of {@link acceptQueueMs}. */
export interface AcceptQueueOptions extends MonitorOptions {
  /**
   * Streaks whose turns took less than this on average, ms per connection taken, read 0: such turns
   * empty the queue by themselves (a pool opening its connections at once: ~0.3-0.5 ms a turn), where
   * slower ones are serving work and each queued client waits a whole one. Once read slow, a streak
   * reads in full until it ends (a pause's flush then takes connections in fast turns). A number >= 0. Default 0.
   */
  minTurnMs?: number;
}

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
export function acceptQueueMs(options?: number | AcceptQueueOptions): Observable<number> {
  const settled = settleOptions('acceptQueueMs', options, { every: 10, idleEvery: 100 });
  const minTurnMs = checkNumber(settled.name('minTurnMs'), settled.minTurnMs ?? 0, { min: 0 });
  // A turn's reading comes at once, however long the period has stretched; the periods read the 0s.
  return defer(() => {
    const unwatch = acceptStreak.watch();
    const readings = merge(acceptStreak.turns, sampleEvery({ ...settled, calm: (ms) => ms === 0 }, () => () => acceptStreak.ms())).pipe(finalize(unwatch));
    let slow = false; // this streak's turns were read slow
    const judged = (ms: number): number => {
      slow = ms > 0 && (slow || (acceptStreak.msPerConnection() ?? 0) >= minTurnMs);
      return slow ? ms : 0;
    };
    return minTurnMs === 0 ? readings : readings.pipe(map(judged));
  });
}
