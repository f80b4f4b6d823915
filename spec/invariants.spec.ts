/*
 * Property-based: over random interleavings of arrivals, closes, explicit releases (also
 * twice), live limit changes, shortages, time and unsubscription, the loop's guarantees hold.
 */
import fc from 'fast-check';
import { Subject, VirtualTimeScheduler } from 'rxjs';
import { Limiter } from '../src/limiter';
import { backpressure, type Admitted } from '../src/operators/backpressure';
import { handleErrors } from '../src/operators/handleErrors';
import type { AcceptResult } from '../src/result';
import { accepted, failed, fakeSocket, FakeListener, type FakeSocket } from './marbles';

const DELAY = 10;

type Step =
  | { op: 'arrive' }
  | { op: 'close'; which: number }
  | { op: 'release'; which: number; twice: boolean }
  | { op: 'setLimit'; limit: number }
  | { op: 'shortage' }
  | { op: 'advance'; ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.constant({ op: 'arrive' as const }), weight: 4 },
  fc.record({ op: fc.constant('close' as const), which: fc.nat(50) }),
  fc.record({ op: fc.constant('release' as const), which: fc.nat(50), twice: fc.boolean() }),
  fc.record({ op: fc.constant('setLimit' as const), limit: fc.integer({ min: 1, max: 6 }) }),
  fc.constant({ op: 'shortage' as const }),
  fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 15 }) }),
);

describe('invariants under random schedules', () => {
  it('never exceeds the limit in force, pauses exactly while a reason holds, leaks nothing', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.array(step, { maxLength: 60 }), (initial, steps) => {
        const scheduler = new VirtualTimeScheduler();
        const listener = new FakeListener(() => scheduler.now());
        const limiter = new Limiter(initial);
        const results = new Subject<AcceptResult>();
        const admitted: Admitted[] = [];
        const sockets: FakeSocket[] = [];
        const shortagesUntil: number[] = [];
        const subscription = results.pipe(handleErrors({ delay: DELAY, scheduler }), backpressure(limiter)).subscribe((c) => {
          // A token is issued only with room under the limit in force.
          expect(limiter.active).toBeLessThanOrEqual(limiter.limit);
          admitted.push(c);
        });

        for (const s of steps) {
          if (s.op === 'arrive') {
            const socket = fakeSocket();
            sockets.push(socket);
            results.next(accepted(listener, socket));
          } else if (s.op === 'close' && sockets.length > 0) {
            sockets[s.which % sockets.length]!.destroy();
          } else if (s.op === 'release' && admitted.length > 0) {
            const { token } = admitted[s.which % admitted.length]!;
            token.release();
            if (s.twice) token.release();
          } else if (s.op === 'setLimit') {
            limiter.setLimit(s.limit);
          } else if (s.op === 'shortage') {
            shortagesUntil.push(scheduler.now() + DELAY);
            results.next(failed(listener, 'EMFILE'));
          } else if (s.op === 'advance') {
            scheduler.maxFrames = scheduler.now() + s.ms;
            scheduler.flush();
            scheduler.frame = scheduler.maxFrames; // the clock moves on even with nothing due
          }
          // Live tokens count exactly the admitted connections still holding theirs.
          expect(limiter.active).toBe(admitted.filter((c) => !c.token.released).length);
          // Paused exactly while a reason holds: the limit is full, or a shortage pause runs.
          const shortage = shortagesUntil.some((until) => scheduler.now() < until);
          expect(listener.pauses.includes('limit')).toBe(limiter.full);
          expect(listener.pauses.includes('shortage')).toBe(shortage);
        }

        subscription.unsubscribe();
        expect(listener.pauses).toEqual([]); // every pause released, every timer gone
        expect(scheduler.actions.filter((a) => !a.closed)).toEqual([]);
        sockets.forEach((s) => s.destroy());
        expect(limiter.active).toBe(0); // no token outlives its connection
      }),
      { numRuns: 300, verbose: fc.VerbosityLevel.Verbose },
    );
  });
});
