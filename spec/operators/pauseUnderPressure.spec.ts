import { of, Subject } from 'rxjs';
import { accepted, fakeSocket, FakeListener, testScheduler } from '../marbles';
import { type AcceptResult, Limiter } from '../../src';
import { pauseUnderPressure, type Pressure, type PressureWarning } from '../../src/overload';

/** `n` connections from `address` through the limiter: what its arrivals record. */
function arrive(limiter: Limiter, address: string, n: number): void {
  for (let i = 0; i < n; i++) limiter.admit(fakeSocket(address))?.release();
}

describe('pauseUnderPressure', () => {
  it('pauses while a signal is above its threshold, resumes at or below the lower mark after minPause, and logs once per pause', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const [a, b, c] = [1, 2, 3].map(() => accepted(listener));
      const lag = hot('-l--h---m--o--w-|', { l: 1, h: 150, m: 90, o: 60, w: 40 });
      const source = cold('a-----b------------c-|', { a, b, c });
      const warnings: PressureWarning[] = [];
      const pressures: Pressure[] = [{ name: 'eventLoopDelay', samples: lag, above: 100, unit: 'ms' }];
      expectObservable(source.pipe(pauseUnderPressure(pressures, { minPause: 5, scheduler, onPause: (w) => warnings.push(w) }))).toBe('a-----b------------c-|', { a, b, c });
      expectSubscriptions(source.subscriptions).toBe('^--------------------!');
      expectSubscriptions(lag.subscriptions).toBe('^---------------!'); // the signal completed by itself
      flush();
      // Above at 4 (150); 90 at 8 is over the lower mark (80); 60 at 11, after minPause: resume.
      expect(listener.events).toEqual(['pause@4', 'resume@11']);
      expect(warnings).toEqual([expect.objectContaining({ signal: 'eventLoopDelay', value: 150, threshold: 100 })]);
      expect(warnings[0]!.message).toMatch(/^overload: eventLoopDelay 150ms is above 100ms; not accepting until it is at or below 80ms\. .*docs\/errors\.md#overload$/);
    });
  });

  it('logs at most one pause per logWindow, counting the ones it did not log', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, hot, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const lag = hot('-h-l-h-l-h-l------h', { h: 200, l: 0 });
      const warnings: PressureWarning[] = [];
      cold('a', { a: accepted(listener) })
        .pipe(pauseUnderPressure([{ name: 'lag', samples: lag, above: 100 }], { minPause: 0, logWindow: 10, scheduler, onPause: (w) => warnings.push(w) }))
        .subscribe();
      flush();
      expect(listener.events).toEqual(['pause@1', 'resume@3', 'pause@5', 'resume@7', 'pause@9', 'resume@11', 'pause@18']);
      expect(warnings.map((w) => w.suppressed)).toEqual([0, 2]); // at 1, then at 18 (5 and 9 were within 10 ms)
      expect(warnings[1]!.message).toContain('(2 more pauses since the last entry)');
    });
  });

  it('holds a pause for minPause however soon the signal falls, and pauses a listener seen later', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, hot, flush }) => {
      const first = new FakeListener(() => scheduler.now());
      const later = new FakeListener(() => scheduler.now());
      const heap = hot('-h-l-l-l-l', { h: 900, l: 10 });
      cold('a---b', { a: accepted(first), b: accepted(later) })
        .pipe(pauseUnderPressure([{ name: 'heap', samples: heap, above: 500, below: 400 }], { minPause: 6, scheduler }))
        .subscribe();
      flush();
      expect(first.events).toEqual(['pause@1', 'resume@7']);
      expect(later.events).toEqual(['pause@4', 'resume@7']);
      expect(first.pauses).toEqual([]);
    });
  });

  it('resumes at minPause when the last reading was back down, though no reading comes then; a reading up again cancels it', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, hot, flush }) => {
      const calm = new FakeListener(() => scheduler.now());
      const upAgain = new FakeListener(() => scheduler.now());
      const pressured = (listener: FakeListener, marbles: string): void =>
        void cold('a', { a: accepted(listener) })
          .pipe(pauseUnderPressure([{ name: 'queue', samples: hot(marbles, { h: 60, l: 0 }), above: 50, below: 0 }], { minPause: 6, scheduler }))
          .subscribe();
      pressured(calm, '-h-l'); // a monitor whose period stretched while calm: no reading at 7
      pressured(upAgain, '-h-l-h');
      flush();
      expect(calm.events).toEqual(['pause@1', 'resume@7']);
      expect(upAgain.events).toEqual(['pause@1']);
    });
  });

  it('keeps the listener paused while any signal holds it, each with its own reason', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const lag = hot('-h---l', { h: 200, l: 1 });
      const rss = hot('--h-----l', { h: 2000, l: 100 });
      cold('a', { a: accepted(listener) })
        .pipe(
          pauseUnderPressure(
            [
              { name: 'lag', samples: lag, above: 100 },
              { name: 'rss', samples: rss, above: 1000 },
            ],
            { minPause: 0, scheduler },
          ),
        )
        .subscribe();
      scheduler.schedule(() => expect(listener.pauses).toEqual(['pressure:lag', 'pressure:rss']), 3);
      flush();
      expect(listener.events).toEqual(['pause@1', 'resume@8']);
    });
  });

  it('passes errors of the source and of a signal through, and releases its pauses', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, hot, expectObservable, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const a = accepted(listener);
      expectObservable(cold<AcceptResult>('a-#', { a }).pipe(pauseUnderPressure([{ name: 's', samples: hot('-h', { h: 9 }), above: 1 }], { scheduler }))).toBe('a-#', { a });
      const broken = cold<number>('--#', {}, new Error('monitor failed'));
      expectObservable(cold('a----', { a }).pipe(pauseUnderPressure([{ name: 's', samples: broken, above: 1 }]))).toBe('a-#', { a }, new Error('monitor failed'));
      flush();
      expect(listener.pauses).toEqual([]);
    });
  });

  it('releases its pauses and unsubscribes from the signals on early unsubscription', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable, expectSubscriptions, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const lag = hot('h----', { h: 500 });
      const source = hot('a----', { a: accepted(listener) });
      expectObservable(source.pipe(pauseUnderPressure([{ name: 'lag', samples: lag, above: 100 }], { scheduler })), '^--!').toBe('a--', { a: expect.anything() });
      expectSubscriptions(lag.subscriptions).toBe('^--!');
      expectSubscriptions(source.subscriptions).toBe('^--!');
      flush();
      expect(listener.events).toEqual(['pause@0', 'resume@3']);
    });
  });

  it('handles a synchronous source and signal', () => {
    const listener = new FakeListener(() => 0);
    const seen: unknown[] = [];
    of(accepted(listener), accepted(listener))
      .pipe(pauseUnderPressure([{ name: 'now', samples: of(5), above: 1 }]))
      .subscribe((r) => seen.push(r));
    expect(seen).toHaveLength(2);
    expect(listener.events).toEqual(['pause@0', 'resume@0']); // paused by the first reading, released at completion
  });

  it('errors the stream when onPause throws', () => {
    const listener = new FakeListener(() => 0);
    const samples = new Subject<number>();
    const results = new Subject<AcceptResult>();
    let error: unknown;
    results
      .pipe(pauseUnderPressure([{ name: 'lag', samples, above: 1 }], { onPause: () => { throw new Error('log failed'); } }))
      .subscribe({ error: (e) => (error = e) });
    results.next(accepted(listener));
    samples.next(5);
    expect((error as Error).message).toBe('log failed');
    expect(listener.pauses).toEqual([]);
  });

  describe('shedHeaviest', () => {
    it('refuses the addresses that bring most of the new connections instead of pausing, and everyone again once below', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, hot, flush }) => {
        const listener = new FakeListener(() => scheduler.now());
        const limiter = new Limiter(100);
        const lag = hot('--h--h--l', { h: 150, l: 10 });
        const warnings: PressureWarning[] = [];
        cold('a', { a: accepted(listener) })
          .pipe(pauseUnderPressure([{ name: 'lag', samples: lag, above: 100, unit: 'ms' }], { minPause: 0, scheduler, shedHeaviest: limiter, onPause: (w) => warnings.push(w) }))
          .subscribe();
        const seen: string[] = [];
        const open = (address: string): string => (limiter.admit(fakeSocket(address)) === undefined ? 'x' : 'o');
        scheduler.schedule(() => (arrive(limiter, '10.0.0.1', 40), arrive(limiter, '10.0.0.2', 4)), 1);
        scheduler.schedule(() => seen.push(open('10.0.0.1') + open('10.0.0.1') + open('10.0.0.2') + open('10.0.0.3')), 4); // one of .1's at a time
        scheduler.schedule(() => seen.push(open('10.0.0.1') + open('10.0.0.2')), 9);
        flush();
        expect(listener.events).toEqual([]); // never paused
        expect(seen).toEqual(['oxoo', 'oo']);
        expect(limiter.counts.droppedHeaviest).toBe(1);
        expect(warnings.map((w) => w.shed)).toEqual([['10.0.0.1']]);
        expect(warnings[0]!.message).toMatch(/^overload: lag 150ms is above 100ms; refusing new connections from 10\.0\.0\.1 \(most of the new ones\) until it is at or below 80ms\./);
      });
    });

    it('with one address all there is, looks at the accept queue for 30 ms first (its connections refused), then pauses', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, hot, flush }) => {
        const listener = new FakeListener(() => scheduler.now());
        const single = new Limiter(100);
        const warnings: PressureWarning[] = [];
        cold('a', { a: accepted(listener) })
          .pipe(pauseUnderPressure([{ name: 'lag', samples: hot('--h 9ms h 29ms h 9ms l', { h: 150, l: 10 }), above: 100 }], { minPause: 0, scheduler, shedHeaviest: single, onPause: (w) => warnings.push(w) }))
          .subscribe();
        const seen: string[] = [];
        const open = (address: string): string => (single.admit(fakeSocket(address)) === undefined ? 'x' : 'o');
        scheduler.schedule(() => arrive(single, '10.0.0.1', 100), 1);
        scheduler.schedule(() => seen.push(open('10.0.0.1')), 20); // during the look, a reading at 12 went on with it
        scheduler.schedule(() => seen.push(open('10.0.0.1')), 33); // the look is over (2 + 30 ms)
        flush();
        expect(seen).toEqual(['x', 'o']);
        expect(warnings.map((w) => w.shed)).toEqual([['10.0.0.1']]);
        expect(listener.events).toEqual(['pause@42', 'resume@52']); // still alone after the look: paused
      });
    });

    it('sheds the flood instead of pausing when the look finds another client', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, hot, flush }) => {
        const listener = new FakeListener(() => scheduler.now());
        const limiter = new Limiter(100);
        cold('a', { a: accepted(listener) })
          .pipe(pauseUnderPressure([{ name: 'lag', samples: hot('--h-h-h---l', { h: 150, l: 10 }), above: 100 }], { minPause: 0, scheduler, shedHeaviest: limiter }))
          .subscribe();
        scheduler.schedule(() => arrive(limiter, '10.0.0.1', 100), 1);
        scheduler.schedule(() => arrive(limiter, '10.0.0.2', 1), 3); // waited in the queue behind the flood
        flush();
        expect(listener.events).toEqual([]);
        expect(limiter.shedHeaviest()).toEqual(['10.0.0.1']);
      });
    });

    it('pauses when the flood has gone but the overload stays', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, hot, flush }) => {
        const later = new FakeListener(() => scheduler.now());
        const flooded = new Limiter(100);
        // Over from 20 ms on, shedding (no pause); the flood came at 10 ms: at 1020 ms it is older than a second.
        cold('a', { a: accepted(later) })
          .pipe(pauseUnderPressure([{ name: 'lag', samples: hot('20ms h 999ms h 99ms l', { h: 150, l: 10 }), above: 100 }], { minPause: 0, scheduler, shedHeaviest: flooded }))
          .subscribe();
        scheduler.schedule(() => (arrive(flooded, '10.0.0.1', 40), arrive(flooded, '10.0.0.2', 4)), 10);
        flush();
        expect(later.events).toEqual(['pause@1020', 'resume@1120']);
        expect(flooded.counts.droppedHeaviest).toBe(0);
      });
    });

    it('stops recording and shedding when unsubscribed', () => {
      const scheduler = testScheduler();
      scheduler.run(({ cold, hot, flush }) => {
        const limiter = new Limiter(100);
        const subscription = cold('a', { a: accepted(new FakeListener(() => scheduler.now())) })
          .pipe(pauseUnderPressure([{ name: 'lag', samples: hot('--h', { h: 150 }), above: 100 }], { scheduler, shedHeaviest: limiter }))
          .subscribe();
        scheduler.schedule(() => (arrive(limiter, '10.0.0.1', 40), arrive(limiter, '10.0.0.2', 4)), 1);
        scheduler.schedule(() => subscription.unsubscribe(), 3);
        flush();
        expect(limiter.admit(fakeSocket('10.0.0.1'))).toBeDefined();
        expect(limiter.shedHeaviest()).toEqual([]); // nothing recorded any more
      });
    });

    it('rejects what is not a Limiter', () => {
      expect(() => pauseUnderPressure([], { shedHeaviest: {} as Limiter })).toThrow(/pauseUnderPressure: options.shedHeaviest must be a Limiter, got \[object Object\]/);
    });
  });

  it.each([
    [[{ name: '', samples: of(1), above: 1 }], /pressures\[0\]\.name must be a non-empty string/],
    [[{ name: 'x', samples: 5, above: 1 }], /pressures\[0\]\.samples must be an Observable, got 5/],
    [[{ name: 'x', samples: of(1), above: NaN }], /pressures\[0\]\.above must be a finite number, got NaN/],
    [[{ name: 'x', samples: of(1), above: 10, below: 20 }], /pressures\[0\]\.below must be a number <= above \(10\), got 20/],
    ['lag', /pauseUnderPressure: pressures must be an array, got "lag"/],
  ])('rejects %p, naming the option and the value', (pressures, message) => {
    expect(() => pauseUnderPressure(pressures as Pressure[])).toThrow(message);
  });

  it('rejects a bad minPause or onPause', () => {
    expect(() => pauseUnderPressure([], { minPause: -1 })).toThrow(/options.minPause must be a finite number of milliseconds >= 0, got -1/);
    expect(() => pauseUnderPressure([], { onPause: 'log' as never })).toThrow(/options.onPause must be a function, got "log"/);
    expect(() => pauseUnderPressure([], { logWindow: NaN })).toThrow(/options.logWindow must be a number of milliseconds, got NaN/);
  });
});
