/*
 * Property-based: over random interleavings of arrivals, closes (of live and of waiting
 * connections), explicit releases (also twice), connections marked idle or busy, live limit
 * changes, shortages, time (queue timeouts) and unsubscription, the loop's guarantees hold.
 */
import fc from 'fast-check';
import { Subject, VirtualTimeScheduler } from 'rxjs';
import { accepted, failed, fakeSocket, FakeListener, type FakeSocket } from './marbles';
import { type AcceptResult, type Admitted, backpressure, handleErrors, Limiter } from '../src';

const DELAY = 10;
const QUEUE_TIMEOUT = 20;

type Step =
  | { op: 'arrive' }
  | { op: 'close'; which: number }
  | { op: 'release'; which: number; twice: boolean }
  | { op: 'setLimit'; limit: number }
  | { op: 'idle'; which: number }
  | { op: 'busy'; which: number }
  | { op: 'shortage' }
  | { op: 'advance'; ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.constant({ op: 'arrive' as const }), weight: 4 },
  fc.record({ op: fc.constant('close' as const), which: fc.nat(50) }),
  fc.record({ op: fc.constant('release' as const), which: fc.nat(50), twice: fc.boolean() }),
  fc.record({ op: fc.constant('setLimit' as const), limit: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ op: fc.constant('idle' as const), which: fc.nat(50) }),
  fc.record({ op: fc.constant('busy' as const), which: fc.nat(50) }),
  fc.constant({ op: 'shortage' as const }),
  fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 15 }) }),
);

describe('invariants under random schedules', () => {
  it('never exceeds the limit in force or the queue, admits in arrival order, pauses exactly while a reason holds, leaks nothing', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 3 }), fc.array(step, { maxLength: 60 }), (initial, queue, steps) => {
        const scheduler = new VirtualTimeScheduler();
        const listener = new FakeListener(() => scheduler.now());
        const limiter = new Limiter(initial, { queueSize: queue, queueTimeout: QUEUE_TIMEOUT, scheduler });
        const idle = new Set<Admitted>(); // marked idle, not busy since
        const inFlight = new Map<Admitted, number>(); // exchanges begun and not ended
        const results = new Subject<AcceptResult>();
        const admitted: Admitted[] = [];
        const sockets: FakeSocket[] = [];
        const shortagesUntil: number[] = [];
        const subscription = results.pipe(handleErrors({ delay: DELAY, scheduler }), backpressure(limiter)).subscribe((c) => {
          // A token is issued only with room under the limit in force.
          expect(limiter.live).toBeLessThanOrEqual(limiter.limit);
          // Nobody jumps the queue: admissions come in arrival order.
          expect(sockets.indexOf(c.socket as FakeSocket)).toBeGreaterThan(admitted.length === 0 ? -1 : sockets.indexOf(admitted.at(-1)!.socket as FakeSocket));
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
          } else if (s.op === 'idle' && admitted.length > 0) {
            // Ends an exchange: idle once none is left in flight (busy and idle nest).
            const connection = admitted[s.which % admitted.length]!;
            const left = Math.max(0, (inFlight.get(connection) ?? 0) - 1);
            inFlight.set(connection, left);
            if (left === 0) idle.add(connection);
            connection.token.idle();
          } else if (s.op === 'busy' && admitted.length > 0) {
            const connection = admitted[s.which % admitted.length]!;
            inFlight.set(connection, (inFlight.get(connection) ?? 0) + 1);
            idle.delete(connection);
            connection.token.busy();
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
          expect(limiter.live).toBe(admitted.filter((c) => !c.token.released).length);
          // The queue never holds more than its size, and every waiting socket is still open.
          expect(limiter.waiting).toBeLessThanOrEqual(queue);
          // Nobody waits while an idle connection (still holding its slot) could make room.
          if (limiter.waiting > 0) expect([...idle].filter((c) => !c.token.released)).toEqual([]);
          // Paused exactly while a reason holds: slots and queue are full, or a shortage pause runs.
          const shortage = shortagesUntil.some((until) => scheduler.now() < until);
          expect(listener.pauses.includes('limit')).toBe(limiter.live >= limiter.limit && limiter.waiting >= queue);
          expect(listener.pauses.includes('shortage')).toBe(shortage);
        }

        subscription.unsubscribe();
        expect(limiter.waiting).toBe(0); // what waited is closed
        expect(listener.pauses).toEqual([]); // every pause released, every timer gone
        expect(scheduler.actions.filter((a) => !a.closed)).toEqual([]);
        sockets.forEach((s) => s.destroy());
        expect(limiter.live).toBe(0); // no token outlives its connection
      }),
      { numRuns: 300, verbose: fc.VerbosityLevel.Verbose },
    );
  });
});
