/* Who brings the new connections: the ring of the last 512 arrivals and the addresses that stand out. */
import { fakeSocket, testScheduler } from '../marbles';
import { Limiter } from '../../src';
import { Arrivals } from '../../src/limit/arrivals';

function arrive(arrivals: Arrivals, address: string, times: number): void {
  for (let i = 0; i < times; i++) arrivals.record(address);
}

describe('Arrivals', () => {
  let now = 0;
  const clock = (): number => now;
  beforeEach(() => (now = 0));

  it('singles out one address flooding among others', () => {
    const arrivals = new Arrivals(clock);
    arrive(arrivals, '10.0.0.1', 400);
    arrive(arrivals, '10.0.0.2', 20);
    expect(arrivals.heaviest()).toEqual(['10.0.0.1']);
  });

  it('singles out a few among many when they bring most of the arrivals, and none of the many', () => {
    const arrivals = new Arrivals(clock);
    for (let i = 0; i < 100; i++) arrive(arrivals, `10.1.0.${i}`, 2);
    for (let round = 0; round < 100; round++) for (const heavy of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) arrivals.record(heavy);
    expect(arrivals.heaviest().sort()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
  });

  it('singles out only those still arriving: the overload is not whoever came just before it', () => {
    const arrivals = new Arrivals(clock);
    arrive(arrivals, '10.0.0.1', 50); // a warm-up, a health checker: heavy over the last second
    for (let round = 0; round < 12; round++) for (const client of ['10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5']) arrivals.record(client);
    expect(arrivals.heaviest()).toEqual([]); // 50 of 98, not among the newest 12: refusing it would relieve nothing
    arrivals.record('10.0.0.1');
    expect(arrivals.heaviest()).toEqual(['10.0.0.1']); // it connects again
  });

  it('singles out no one when those that stand out bring less than half: refusing them would not end the overload', () => {
    const arrivals = new Arrivals(clock);
    for (let i = 0; i < 100; i++) arrive(arrivals, `10.1.0.${i}`, 4);
    arrive(arrivals, '10.0.0.1', 100);
    expect(arrivals.heaviest()).toEqual([]);
  });

  it('singles out no one when one address brings them all, when they are spread evenly, or when few arrived', () => {
    const one = new Arrivals(clock);
    arrive(one, '10.0.0.1', 500);
    expect(one.heaviest()).toEqual([]);
    const even = new Arrivals(clock);
    for (let round = 0; round < 5; round++) for (let i = 0; i < 100; i++) even.record(`10.1.0.${i}`);
    expect(even.heaviest()).toEqual([]);
    const few = new Arrivals(clock);
    arrive(few, '10.0.0.1', 30);
    arrive(few, '10.0.0.2', 1);
    expect(few.heaviest()).toEqual([]); // 31 arrivals say nothing
    few.record('10.0.0.1');
    expect(few.heaviest()).toEqual(['10.0.0.1']);
  });

  it("judges by the last second's arrivals, shared among the addresses seen in the last 10 s", () => {
    const arrivals = new Arrivals(clock);
    arrive(arrivals, '10.0.0.1', 400);
    now = 500;
    arrive(arrivals, '10.0.0.2', 40);
    expect(arrivals.heaviest()).toEqual(['10.0.0.1']);
    now = 1001; // the flood's arrivals (at 0) are older than a second, .1 still seen
    expect(arrivals.heaviest()).toEqual(['10.0.0.2']);
    arrive(arrivals, '10.0.0.3', 40);
    expect(arrivals.heaviest()).toEqual([]); // two alike
    now = 10_001; // .1 no longer seen, nothing recent
    expect(arrivals.heaviest()).toEqual([]);
  });

  it('counts a client seen in the last 10 s though none of its connections came in the last second (refused while paused)', () => {
    const arrivals = new Arrivals(clock);
    arrive(arrivals, '10.0.0.2', 1);
    now = 5000;
    arrive(arrivals, '10.0.0.1', 100);
    expect(arrivals.heaviest()).toEqual(['10.0.0.1']);
    now = 10_001;
    arrive(arrivals, '10.0.0.1', 100);
    expect(arrivals.heaviest()).toEqual([]); // .2 last seen over 10 s ago: .1 is all there is
  });

  it('names the one address seen when it is all there is', () => {
    const arrivals = new Arrivals(clock);
    arrive(arrivals, '10.0.0.1', 31);
    expect(arrivals.alone()).toBeUndefined(); // too few to say
    arrivals.record('10.0.0.1');
    expect(arrivals.alone()).toBe('10.0.0.1');
    now = 5000;
    arrive(arrivals, '10.0.0.2', 1);
    expect(arrivals.alone()).toBeUndefined();
  });

  it('remembers the last 512 arrivals, in fixed memory', () => {
    const arrivals = new Arrivals(clock);
    arrive(arrivals, '10.0.0.1', 500);
    arrive(arrivals, '10.0.0.2', 10);
    expect(arrivals.heaviest()).toEqual(['10.0.0.1']);
    arrive(arrivals, '10.0.0.3', 512); // every earlier one overwritten
    expect(arrivals.heaviest()).toEqual([]);
    arrive(arrivals, '10.0.0.4', 12);
    expect(arrivals.heaviest()).toEqual(['10.0.0.3']);
  });
});

describe('Limiter.shedHeaviest', () => {
  it('admits a refused address one connection at a time, the next once the one in service has closed', () => {
    const limiter = new Limiter(1000);
    const stop = limiter.watchArrivals();
    for (let i = 0; i < 100; i++) limiter.admit(fakeSocket('10.0.0.1'))?.release();
    limiter.admit(fakeSocket('10.0.0.2'))?.release();
    expect(limiter.shedHeaviest()).toEqual(['10.0.0.1']);
    const serving = fakeSocket('10.0.0.1');
    expect([limiter.admit(serving) !== undefined, limiter.admit(fakeSocket('10.0.0.1')) !== undefined]).toEqual([true, false]);
    expect(limiter.admit(fakeSocket('10.0.0.2')) !== undefined).toBe(true); // the others as before
    serving.destroy();
    expect([limiter.admit(fakeSocket('10.0.0.1')) !== undefined, limiter.admit(fakeSocket('10.0.0.1')) !== undefined]).toEqual([true, false]);
    expect(limiter.counts.droppedHeaviest).toBe(2);
    stop();
  });

  it('repeats a verdict for 5 ms (the monitors ask at every turn), judging anew once stopped', () => {
    testScheduler().run(({ cold, flush }) => {
      const limiter = new Limiter(1000);
      const stop = limiter.watchArrivals();
      const arrive = (address: string, n: number): void => {
        for (let i = 0; i < n; i++) limiter.admit(fakeSocket(address))?.release();
      };
      const seen: unknown[] = [];
      cold('a 3ms b 1ms c').subscribe((at) => {
        if (at === 'a') (arrive('10.0.0.1', 100), arrive('10.0.0.2', 1), seen.push(limiter.shedHeaviest())); // 0
        if (at === 'b') (arrive('10.0.0.2', 400), seen.push(limiter.shedHeaviest())); // 4: the verdict of 0 stands
        if (at === 'b') (limiter.stopShedding(), seen.push(limiter.shedHeaviest())); // 4: stopped, judged anew
        if (at === 'c') (arrive('10.0.0.1', 450), seen.push(limiter.shedHeaviest())); // 6: within 5 ms of the last
      });
      flush();
      expect(seen).toEqual([['10.0.0.1'], ['10.0.0.1'], ['10.0.0.2'], ['10.0.0.2']]);
      stop();
    });
  });

  it('refuses the heaviest until stopShedding; with one address alone, looks for 30 ms at most once a second', () => {
    testScheduler().run(({ cold, flush }) => {
      const limiter = new Limiter(1000); // its clock is asyncScheduler's, virtual here
      const stop = limiter.watchArrivals();
      const open = (address: string): string => (limiter.admit(fakeSocket(address)) === undefined ? 'x' : 'o');
      const flood = (n: number): void => {
        for (let i = 0; i < n; i++) limiter.admit(fakeSocket('10.0.0.1'))?.release();
      };
      const seen: unknown[] = [];
      cold('a 19ms b 9ms c 69ms d 899ms e 199ms f').subscribe((at) => {
        if (at === 'a') (flood(100), seen.push(limiter.shedHeaviest(), open('10.0.0.1'))); // 0: the look
        if (at === 'b') seen.push(limiter.shedHeaviest(), open('10.0.0.1')); // 20: the look goes on
        if (at === 'c') seen.push(limiter.shedHeaviest(), open('10.0.0.1')); // 30: over, no one else: pause
        if (at === 'd') (limiter.stopShedding(), flood(100), seen.push(limiter.shedHeaviest())); // 100: within a second of the last look
        if (at === 'e') seen.push(limiter.shedHeaviest()); // 1000: a second later, a look again
        if (at === 'f') (flood(100), open('10.0.0.2'), seen.push(limiter.shedHeaviest(), open('10.0.0.2'), open('10.0.0.1'), open('10.0.0.1'))); // another client: the flood is shed, one at a time
      });
      flush();
      expect(seen).toEqual([['10.0.0.1'], 'x', ['10.0.0.1'], 'x', [], 'o', [], ['10.0.0.1'], ['10.0.0.1'], 'o', 'o', 'x']);
      expect(limiter.counts.droppedHeaviest).toBe(3);
      stop();
      expect(limiter.shedHeaviest()).toEqual([]);
      expect(open('10.0.0.1')).toBe('o');
    });
  });
});
