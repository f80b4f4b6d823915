/* targetLimit: the limit on exchanges in flight set from what an exchange costs, in virtual time. */
import { EMPTY, of, Subject } from 'rxjs';
import { fakeSocket, testScheduler } from '../marbles';
import { Limiter } from '../../src';
import { targetLimit } from '../../src/overload';

describe('targetLimit', () => {
  it('sets the exchange limit to what finishes within the target, averaging readings', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const limiter = new Limiter(1000);
      // 100 ms target: 5 ms per exchange -> 20. Then 10 ms (average 7.5) -> 13. Then 5 (average
      // 6.25) -> 16. Then free: the average halves each time, 32 then 64 fit.
      const costs = cold('-a-b-c-d-e-|', { a: 5, b: 10, c: 5, d: 0, e: 0 });
      const limits = targetLimit(limiter, costs, { target: 100 });
      expectObservable(limits).toBe('-w-x-y-z-v-|', { w: 20, x: 13, y: 16, z: 32, v: 64 });
    });
  });

  it('applies each limit to the limiter within min and max, leaving the connection limit and the queue alone', () => {
    const limiter = new Limiter(100, { queueSize: 4 });
    const costs = new Subject<number>();
    const limits: number[] = [];
    const subscription = targetLimit(limiter, costs, { target: 100, min: 3, weight: 1 }).subscribe((l) => limits.push(l));
    costs.next(10); // 10 fit
    expect([limiter.exchangeLimit, limiter.limit, limiter.queueSize]).toEqual([10, 100, 4]);
    costs.next(80); // 1 fits: min 3
    expect(limiter.exchangeLimit).toBe(3);
    costs.next(0.01); // 10 000 fit: max 100 (the connection limit)
    expect(limiter.exchangeLimit).toBe(100);
    expect(limits).toEqual([10, 3, 100]);
    subscription.unsubscribe();
    expect(costs.observed).toBe(false); // nothing left subscribed
  });

  it('completes and errors with its readings; a synchronous source is applied at once', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(targetLimit(new Limiter(50), cold('a|', { a: 4 }), { target: 100 })).toBe('a|', { a: 25 });
      expectObservable(targetLimit(new Limiter(50), cold('a#', { a: 4 }), { target: 100 })).toBe('a#', { a: 25 });
    });
    const limiter = new Limiter(50);
    let limit = 0;
    targetLimit(limiter, of(8, 8), { target: 100 }).subscribe((l) => (limit = l)); // synchronous
    expect([limit, limiter.exchangeLimit]).toEqual([12, 12]);
  });

  it('errors on a reading that is not a cost, naming it, and stops there', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const costs = cold('-a-b-c', { a: 5, b: NaN, c: 5 });
      const error = new RangeError('targetLimit: a service time must be a number >= 0, got NaN');
      expectObservable(targetLimit(new Limiter(100), costs, { target: 100 })).toBe('-a-#', { a: 20 }, error);
      expectSubscriptions(costs.subscriptions).toBe('^--!');
    });
  });

  it('stops reading when unsubscribed early', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const costs = cold('-a-a-a-a|', { a: 5 });
      expectObservable(targetLimit(new Limiter(100), costs, { target: 100 }), '^--!').toBe('-a-', { a: 20 });
      expectSubscriptions(costs.subscriptions).toBe('^--!');
    });
  });

  it('never closes or refuses a connection: it bounds exchanges, and idle keep-alive connections are none', () => {
    const limiter = new Limiter(10, { queueSize: 0 });
    const tokens = Array.from({ length: 6 }, () => limiter.admit(fakeSocket())!);
    tokens.forEach((token) => token.idle()); // six idle keep-alive connections
    targetLimit(limiter, of(50), { target: 100 }).subscribe(); // 2 fit
    expect([limiter.exchangeLimit, limiter.live, limiter.refusing]).toEqual([2, 6, false]);
    expect([tokens[0]!.tryBusy(), tokens[1]!.tryBusy(), tokens[2]!.tryBusy()]).toEqual([true, true, false]); // the third is shed
    expect([limiter.inFlight, limiter.counts.shedRequests, tokens[2]!.released]).toEqual([2, 1, false]);
  });

  it.each([
    [{ target: 0 }, /options.target must be a number > 0, got 0/],
    [{ target: Infinity }, /options.target must be a number > 0, got Infinity/],
    [{ target: 10, min: 0 }, /options.min must be an integer >= 1, got 0/],
    [{ target: 10, min: 5, max: 4 }, /options.max must be an integer >= 5, got 4/],
    [{ target: 10, maxQueue: 4 }, /targetLimit: options has no "maxQueue"\. Known: target, min, max, weight/],
    [{ target: 10, weight: 0 }, /options.weight must be a number above 0 and at most 1, got 0/],
    [{ target: 10, weight: 1.5 }, /options.weight must be a number above 0 and at most 1, got 1.5/],
    [{ target: NaN }, /options.target must be a number > 0, got NaN/],
    [{ target: '100' }, /options.target must be a number > 0, got "100"/],
    [null, /targetLimit: options must be an object, got null/],
    [[], /targetLimit: options must be an object, got an array/],
  ])('rejects %p, naming the option and the value', (options, message) => {
    expect(() => targetLimit(new Limiter(5), EMPTY, options as never)).toThrow(message);
  });
});
