/* The limiter's per-request gate: exchanges in flight, and how far into a loop turn a new one
 * may begin. Turns end by hand here (the afterTurn the gate is given), and the clock is a
 * variable, so every case is exact. */
import { Counts } from '../../src/limit/counts';
import { ExchangeGate } from '../../src/limit/exchangeGate';
import { Limiter } from '../../src/limit/limiter';
import { keptBatch } from '../../src/source/queueFlush';
import { asyncScheduler } from 'rxjs';
import { fakeSocket, testScheduler } from '../marbles';

/** A gate on a hand-set clock, whose turn ends run only when the test says so. */
function gate(queuedMs = (): number => 0): { gate: ExchangeGate; at: (ms: number) => void; turnEnds: (() => void)[] } {
  let now = 0;
  const turnEnds: (() => void)[] = [];
  return { gate: new ExchangeGate(() => now, new Counts(), (end) => void turnEnds.push(end), queuedMs), at: (ms) => void (now = ms), turnEnds };
}

describe('ExchangeGate', () => {
  it('admits every exchange with no bound set, and schedules no turn end (nothing to time)', () => {
    const g = gate();
    expect([g.gate.limit, g.gate.waitMs]).toEqual([Infinity, Infinity]);
    for (const others of [0, 1, 1000, Number.MAX_SAFE_INTEGER]) expect(g.gate.admits(others)).toBe(true);
    g.at(1_000_000);
    expect(g.gate.admits(5)).toBe(true);
    expect(g.turnEnds).toHaveLength(0);
  });

  it('bounds the exchanges in flight besides the new one by limit: others < limit begin, others >= limit do not', () => {
    const g = gate();
    g.gate.limit = 3;
    expect(g.gate.limit).toBe(3);
    expect([0, 1, 2, 3, 4, 100].map((others) => g.gate.admits(others))).toEqual([true, true, true, false, false, false]);
    g.gate.limit = 1; // changed live
    expect([g.gate.admits(0), g.gate.admits(1)]).toEqual([true, false]);
    g.gate.limit = Infinity; // off again
    expect(g.gate.admits(1_000_000)).toBe(true);
  });

  it("admits a turn's first request whenever it comes, and later ones while now - start <= waitMs, refusing after", () => {
    const g = gate();
    g.gate.waitMs = 20;
    expect(g.gate.waitMs).toBe(20);
    g.at(1000);
    expect(g.gate.admits(0)).toBe(true); // the first starts the turn at 1000
    g.at(1010);
    expect(g.gate.admits(0)).toBe(true);
    g.at(1020);
    expect(g.gate.admits(0)).toBe(true); // exactly waitMs in: still admitted
    g.at(1021);
    expect(g.gate.admits(0)).toBe(false);
    g.at(5000);
    expect(g.gate.admits(0)).toBe(false); // the rest of the turn too, however late
  });

  it('cuts a turn to a sixth of waitMs while the accept queue has held clients longer than waitMs, and only then', () => {
    let queued = 0;
    const g = gate(() => queued);
    g.gate.waitMs = 30;
    const turn = (): boolean[] => {
      g.at(1000);
      const first = g.gate.admits(0);
      g.at(1005);
      const at5 = g.gate.admits(0); // within a sixth (5 ms)
      g.at(1006);
      const at6 = g.gate.admits(0); // past a sixth, within waitMs
      g.turnEnds.shift()!();
      return [first, at5, at6];
    };
    expect(turn()).toEqual([true, true, true]); // nothing queued
    queued = 30;
    expect(turn()).toEqual([true, true, true]); // queued exactly waitMs: not longer
    queued = 31;
    expect(turn()).toEqual([true, true, false]); // longer: the turn's first still begins, the rest within 5 ms
    queued = 0;
    expect(turn()).toEqual([true, true, true]); // the queue emptied: whole turns again
  });

  it('checks limit before time: a request over the limit is refused and does not start the turn', () => {
    const g = gate();
    g.gate.limit = 1;
    g.gate.waitMs = 10;
    g.at(0);
    expect(g.gate.admits(1)).toBe(false);
    expect(g.turnEnds).toHaveLength(0); // no turn begun by a refused request
    g.at(100);
    expect(g.gate.admits(0)).toBe(true); // the turn starts here, at 100, not at 0
    g.at(110);
    expect(g.gate.admits(0)).toBe(true);
    g.at(111);
    expect(g.gate.admits(0)).toBe(false);
  });

  it('starts a new turn fresh once the afterTurn callback has run: its first request is admitted and times the turn anew', () => {
    const g = gate();
    g.gate.waitMs = 5;
    g.at(0);
    expect(g.gate.admits(0)).toBe(true);
    g.at(50);
    expect(g.gate.admits(0)).toBe(false); // still the first turn: past waitMs
    expect(g.turnEnds).toHaveLength(1);
    g.turnEnds.shift()!(); // the loop reached its check phase
    expect(g.gate.admits(0)).toBe(true); // first of the second turn, at 50
    g.at(55);
    expect(g.gate.admits(0)).toBe(true);
    g.at(56);
    expect(g.gate.admits(0)).toBe(false);
  });

  it('schedules exactly one afterTurn per turn, however many requests the turn judges', () => {
    const g = gate();
    g.gate.waitMs = 10;
    for (let ms = 0; ms <= 30; ms += 1) {
      g.at(ms);
      g.gate.admits(0);
    }
    expect(g.turnEnds).toHaveLength(1);
    g.turnEnds.shift()!();
    expect(g.turnEnds).toHaveLength(0); // ending a turn schedules nothing by itself
    g.at(40);
    g.gate.admits(0);
    g.gate.admits(0);
    expect(g.turnEnds).toHaveLength(1); // the second turn's own
  });

  it('uses setImmediate by default: a turn ends in the check phase, and the next immediate begins a fresh turn', async () => {
    let now = 0;
    const real = new ExchangeGate(() => now, new Counts());
    real.waitMs = 1;
    expect(real.admits(0)).toBe(true);
    now = 100;
    expect(real.admits(0)).toBe(false); // same synchronous turn
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(real.admits(0)).toBe(true); // the turn ended: fresh
  });
});

describe("ExchangeGate and a pause's kept batch", () => {
  it('admits the first request of a connection a pause kept whatever the bounds until its time is up, and only its first', () => {
    testScheduler().run(({ flush }) => {
      const limiter = new Limiter(10); // its clock is asyncScheduler's, virtual here
      limiter.setExchangeLimit(1);
      const busy = limiter.admit(fakeSocket())!;
      expect(busy.tryBusy()).toBe(true); // the one exchange the limit allows
      const [kept, late] = [fakeSocket(), fakeSocket()];
      keptBatch.set(kept, 50);
      keptBatch.set(late, 50);
      const [other, batch] = [limiter.admit(fakeSocket())!, limiter.admit(kept)!];
      expect([other.tryBusy(), batch.tryBusy()]).toEqual([false, true]); // the batch's request is admitted over the limit
      batch.idle();
      expect(batch.tryBusy()).toBe(false); // its next one is judged as any other
      const lateToken = limiter.admit(late)!;
      let lateAdmitted: boolean | undefined;
      asyncScheduler.schedule(() => (lateAdmitted = lateToken.tryBusy()), 51); // past its batch's time
      flush();
      expect(lateAdmitted).toBe(false);
      expect([keptBatch.has(kept), keptBatch.has(late), limiter.counts.shedRequests]).toEqual([false, false, 3]);
    });
  });
});
