import { Subject } from 'rxjs';
import { accepted, FakeListener, testScheduler } from '../marbles';
import { drain, LoopStatus } from '../../src/balancer';
import { Limiter } from '../../src';
import { Metrics } from '../../src/metrics';

describe('drain', () => {
  /** A status whose accepted count moves with each value of the returned Subject. */
  function counted() {
    const listener = new FakeListener(() => 0);
    const limiter = new Limiter(10);
    const metrics = new Metrics(limiter);
    const arrivals = new Subject<void>();
    const results = new Subject<ReturnType<typeof accepted>>();
    results.pipe(metrics.count()).subscribe();
    arrivals.subscribe(() => results.next(accepted(listener)));
    return { status: new LoopStatus(metrics, limiter), arrivals };
  }

  it('emits once nothing has arrived for quietMs, and drains from subscription', () => {
    testScheduler().run(({ expectObservable, cold }) => {
      const { status, arrivals } = counted();
      cold('100ms a 199ms a').subscribe(() => arrivals.next()); // traffic at 100 and 300 ms
      expectObservable(drain(status, { maxMs: 5000, quietMs: 400 })).toBe('700ms (x|)', { x: undefined });
      cold('1ms a').subscribe(() => expect(status.state.phase).toBe('draining'));
    });
  });

  it('emits after maxMs while traffic goes on arriving', () => {
    testScheduler().run(({ expectObservable, cold }) => {
      const { status, arrivals } = counted();
      cold('50ms a 49ms a 49ms a 49ms a 49ms a 49ms a 49ms a').subscribe(() => arrivals.next());
      expectObservable(drain(status, { maxMs: 300, quietMs: 100 })).toBe('300ms (x|)', { x: undefined });
    });
  });

  it('emits at once with maxMs 0 (stop as without a drain)', () => {
    testScheduler().run(({ expectObservable }) => {
      expectObservable(drain(counted().status, { maxMs: 0 })).toBe('(x|)', { x: undefined });
    });
  });

  it('stops its timers when unsubscribed early', () => {
    testScheduler().run(({ expectObservable }) => {
      expectObservable(drain(counted().status, { maxMs: 5000, quietMs: 400 }), '200ms !').toBe('');
    });
  });

  it('rejects bad options, naming them', () => {
    const { status } = counted();
    expect(() => drain(status, { maxMs: -1 })).toThrow('drain: options.maxMs must be a finite number of milliseconds >= 0, got -1');
    expect(() => drain(status, { maxMs: 10, quietMs: 0 })).toThrow('drain: options.quietMs must be an integer >= 1, got 0');
  });
});
