/* targetLimit: the limit and queue set from what an exchange costs, in virtual time. */
import { EMPTY, of, Subject } from 'rxjs';
import { fakeSocket, testScheduler } from '../marbles';
import { Limiter, targetLimit } from '../../src';

describe('targetLimit', () => {
  it('sets limit and queue to what finishes within the target (half served, half waiting), averaging readings', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const limiter = new Limiter(1000, { queueSize: 50 });
      // 100 ms target: 5 ms per exchange -> 20 fit: limit 10, queue 10. Then 10 ms (average 7.5) -> 13 fit: 7 + 6.
      // Then 5 (average 6.25) -> 16 fit: 8. Then free: the average halves each time, 32 then 64 fit.
      const costs = cold('-a-b-c-d-e-|', { a: 5, b: 10, c: 5, d: 0, e: 0 });
      const limits = targetLimit(limiter, costs, { target: 100 });
      expectObservable(limits).toBe('-w-x-y-z-v-|', { w: 10, x: 7, y: 8, z: 16, v: 32 });
    });
  });

  it('applies each limit and queue size to the limiter, within min, max and maxQueue', () => {
    const limiter = new Limiter(100, { queueSize: 4 });
    const costs = new Subject<number>();
    const limits: number[] = [];
    const subscription = targetLimit(limiter, costs, { target: 100, min: 3, weight: 1 }).subscribe((l) => limits.push(l));
    costs.next(10); // 10 fit: 5 + 5, the queue capped at 4
    expect([limiter.limit, limiter.queueSize]).toEqual([5, 4]);
    costs.next(80); // 1 fits: min 3, no queue
    expect([limiter.limit, limiter.queueSize]).toEqual([3, 0]);
    costs.next(0.01); // 10 000 fit: max 100 (the limit at the start), queue 4
    expect([limiter.limit, limiter.queueSize]).toEqual([100, 4]);
    expect(limits).toEqual([5, 3, 100]);
    subscription.unsubscribe();
    expect(costs.observed).toBe(false); // nothing left subscribed
  });

  it('completes and errors with its readings; a synchronous source is applied at once', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(targetLimit(new Limiter(50), cold('a|', { a: 2 }), { target: 100 })).toBe('a|', { a: 25 });
      expectObservable(targetLimit(new Limiter(50), cold('a#', { a: 2 }), { target: 100 })).toBe('a#', { a: 25 });
    });
    const limiter = new Limiter(50);
    let limit = 0;
    targetLimit(limiter, of(4, 4), { target: 100 }).subscribe((l) => (limit = l)); // synchronous
    expect([limit, limiter.limit]).toEqual([13, 13]);
  });

  it('errors on a reading that is not a cost, naming it, and stops there', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const costs = cold('-a-b-c', { a: 5, b: NaN, c: 5 });
      const error = new RangeError('targetLimit: a service time must be a number >= 0, got NaN');
      expectObservable(targetLimit(new Limiter(100), costs, { target: 100 })).toBe('-a-#', { a: 10 }, error);
      expectSubscriptions(costs.subscriptions).toBe('^--!');
    });
  });

  it('stops reading when unsubscribed early', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const costs = cold('-a-a-a-a|', { a: 5 });
      expectObservable(targetLimit(new Limiter(100), costs, { target: 100 }), '^--!').toBe('-a-', { a: 10 });
      expectSubscriptions(costs.subscriptions).toBe('^--!');
    });
  });

  it('leaves live connections alone when the limit falls: new ones wait', () => {
    const limiter = new Limiter(10, { queueSize: 10 });
    for (let i = 0; i < 6; i++) limiter.admit(fakeSocket());
    targetLimit(limiter, of(50), { target: 100 }).subscribe(); // 2 fit: limit 1, queue 1
    expect([limiter.active, limiter.limit, limiter.queueSize, limiter.refusing]).toEqual([6, 1, 1, false]);
  });

  it.each([
    [{ target: 0 }, /options.target must be a number > 0, got 0/],
    [{ target: Infinity }, /options.target must be a number > 0, got Infinity/],
    [{ target: 10, min: 0 }, /options.min must be an integer >= 1, got 0/],
    [{ target: 10, min: 5, max: 4 }, /options.max must be an integer >= 5, got 4/],
    [{ target: 10, maxQueue: -1 }, /options.maxQueue must be an integer >= 0, got -1/],
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
