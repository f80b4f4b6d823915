import { of } from 'rxjs';
import { accepted, failed, FakeListener, testScheduler } from '../marbles';
import { type AcceptResult, handleErrors } from '../../src';

describe('handleErrors', () => {
  it('emits connections and skips per-connection errors without pausing', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions, flush }) => {
      const listener = new FakeListener(() => 0);
      const v = { a: accepted(listener), x: failed(listener, 'ECONNRESET'), b: accepted(listener) };
      const source = cold('-a-x-b-|', v);
      expectObservable(source.pipe(handleErrors())).toBe('-a---b-|', v);
      expectSubscriptions(source.subscriptions).toBe('^------!');
      flush();
      expect(listener.events).toEqual([]);
    });
  });

  it('pauses the listener for 500 ms by default on a shortage, then resumes it', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const v = { a: accepted(listener), r: failed(listener, 'EMFILE') };
      expectObservable(cold('-r-a 600ms |', v).pipe(handleErrors())).toBe('---a 600ms |', v);
      flush();
      expect(listener.events).toEqual(['pause@1', 'resume@501']);
    });
  });

  it('releases a pending pause when the source completes (the listener is gone)', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      expectObservable(cold('-r-|', { r: failed(listener, 'EMFILE') }).pipe(handleErrors())).toBe('---|');
      flush();
      expect(listener.events).toEqual(['pause@1', 'resume@3']);
    });
  });

  it('records the pause in virtual time, with a custom delay and scheduler', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const source = cold('--r 200ms |', { r: failed(listener, 'ENFILE') });
      expectObservable(source.pipe(handleErrors({ delay: 100, scheduler }))).toBe('--- 200ms |');
      flush();
      expect(listener.events).toEqual(['pause@2', 'resume@102']);
    });
  });

  it('doubles the pause for shortages in a row up to maxDelay, and starts over after a connection', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const v = { r: failed(listener, 'EMFILE'), a: accepted(listener) };
      // shortages at 0, 10, 30, 80 (each after the previous pause ended), a connection at 130, a shortage at 140
      const source = cold('r 9ms r 19ms r 49ms r 49ms a 9ms r 9ms |', v);
      source.pipe(handleErrors({ delay: 5, maxDelay: 40 })).subscribe();
      flush();
      expect(listener.events).toEqual(['pause@0', 'resume@5', 'pause@10', 'resume@20', 'pause@30', 'resume@50', 'pause@80', 'resume@120', 'pause@140', 'resume@145']);
    });
  });

  it('ends a pause early when the failure says the shortage is over', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const relieved = cold('-----x', { x: 1 });
      const source = hot('-r------|', { r: failed(listener, 'EMFILE', { relieved }) });
      expectObservable(source.pipe(handleErrors(500))).toBe('--------|');
      expectSubscriptions(relieved.subscriptions).toBe('-^----!');
      flush();
      expect(listener.events).toEqual(['pause@1', 'resume@6']);
    });
  });

  it('pauses on an unknown error code and on any failure to listen again', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const v = { u: failed(listener, 'EWEIRD'), l: failed(listener, 'EADDRINUSE', { during: 'resume', syscall: 'listen' }) };
      cold('u 19ms l 19ms |', v).pipe(handleErrors(10)).subscribe();
      flush();
      expect(listener.events).toEqual(['pause@0', 'resume@10', 'pause@20', 'resume@30']);
    });
  });

  it('errors the stream with the original error when the listener is broken', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const listener = new FakeListener(() => 0);
      const v = { a: accepted(listener), f: failed(listener, 'EBADF') };
      const source = cold('-a-f-a-|', v);
      expectObservable(source.pipe(handleErrors())).toBe('-a-#', v, v.f.error);
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('passes a source error through', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const boom = new Error('boom');
      expectObservable(cold<AcceptResult>('--#', {}, boom).pipe(handleErrors())).toBe('--#', {}, boom);
    });
  });

  it('unsubscribes from the source and cancels a pending pause on early unsubscription', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable, expectSubscriptions, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const source = hot('-r-------', { r: failed(listener, 'EMFILE') });
      expectObservable(source.pipe(handleErrors(100)), '^--!').toBe('---');
      expectSubscriptions(source.subscriptions).toBe('^--!');
      flush();
      // The pause is released on unsubscription (a closed listener ignores it), never later.
      expect(listener.events).toEqual(['pause@1', 'resume@3']);
    });
  });

  it('handles a synchronous source', () => {
    const listener = new FakeListener(() => 0);
    const a = accepted(listener);
    const values: unknown[] = [];
    let completed = false;
    of(a, failed(listener, 'ECONNABORTED'), a)
      .pipe(handleErrors(0))
      .subscribe({ next: (v) => values.push(v), complete: () => (completed = true) });
    expect(values).toEqual([a, a]);
    expect(completed).toBe(true);
  });

  it("errors the stream when a listener's pause throws", () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const boom = new Error('pause failed');
      const listener = { pause: () => { throw boom; }, pauses: [], pauseTotals: () => new Map(), refused: 0, report: () => undefined, address: () => null };
      expectObservable(cold('-r', { r: failed(listener, 'EMFILE') }).pipe(handleErrors())).toBe('-#', {}, boom);
    });
  });

  it.each([
    [-1, /delay must be a finite number of milliseconds >= 0, got -1/],
    [NaN, /delay must be a number of milliseconds, got NaN/],
    [Infinity, /delay must be a finite number/],
  ])('rejects the delay %p at call time, naming the option', (delay, message) => {
    expect(() => handleErrors(delay)).toThrow(message);
  });

  it('rejects maxDelay below delay', () => {
    expect(() => handleErrors({ delay: 100, maxDelay: 10 })).toThrow(RangeError);
    expect(() => handleErrors({ delay: 100, maxDelay: 10 })).toThrow(/maxDelay must be >= delay \(100\), got 10/);
  });
});
