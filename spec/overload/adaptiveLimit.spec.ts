/* adaptiveLimit: the limit learned from a signal that rises with load (AIMD), in virtual time. */
import { fakeSocket, testScheduler } from '../marbles';
import { adaptiveLimit } from '../../src/overload';
import { Limiter } from '../../src';

describe('adaptiveLimit', () => {
  it('lowers the limit by a factor on each reading above the target, and raises it by one while it is reached', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const limiter = new Limiter(10, { queueSize: 0 });
      for (let i = 0; i < 10; i++) limiter.admit(fakeSocket());
      const lag = cold('-h-h-l-l-|', { h: 300, l: 10 });
      // 10 -> 9 -> 8 (above), then full (10 live): 9, 10 (max).
      expectObservable(adaptiveLimit(limiter, lag, { target: 100, min: 2 })).toBe('-a-b-c-d-|', { a: 9, b: 8, c: 9, d: 10 });
    });
  });

  it('decreases from the live count when fewer are live than the limit allows, so the first reading above binds', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const limiter = new Limiter(1000);
      for (let i = 0; i < 40; i++) limiter.admit(fakeSocket());
      const heap = cold('-h-|', { h: 90 });
      expectObservable(adaptiveLimit(limiter, heap, { target: 60, decrease: 0.5 })).toBe('-a-|', { a: 20 });
    });
  });

  it('stays within min and does not grow while the limit is not reached', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const limiter = new Limiter(3);
      const lag = cold('hhhll|', { h: 300, l: 10 });
      // 3 -> 2 (above), then held at min; below the target it does not grow: nothing is waiting.
      expectObservable(adaptiveLimit(limiter, lag, { target: 100, min: 2, max: 8 })).toBe('a----|', { a: 2 });
    });
  });

  it.each([
    [{ target: 0 }, /options.target must be a number > 0, got 0/],
    [{ target: 10, min: 0 }, /options.min must be an integer >= 1, got 0/],
    [{ target: 10, min: 5, max: 4 }, /options.max must be an integer >= 5, got 4/],
    [{ target: 10, decrease: 1 }, /options.decrease must be a number above 0 and below 1, got 1/],
    [{ target: NaN }, /options.target must be a number > 0, got NaN/],
    [{ target: '50' }, /options.target must be a number > 0, got "50"/],
    [{ target: 10, min: 1.5 }, /options.min must be an integer >= 1, got 1.5/],
    [{ target: 10, decrease: 0 }, /options.decrease must be a number above 0 and below 1, got 0/],
    [null, /adaptiveLimit: options must be an object, got null/],
  ])('rejects %p, naming the option and the value', (options, message) => {
    expect(() => adaptiveLimit(new Limiter(5), testScheduler().createColdObservable('-'), options as never)).toThrow(message);
  });

  it('takes an Infinity target, as before: no reading is above it', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const limiter = new Limiter(3, { queueSize: 0 });
      for (let i = 0; i < 3; i++) limiter.admit(fakeSocket());
      expectObservable(adaptiveLimit(limiter, cold('-h-|', { h: 1e9 }), { target: Infinity, max: 5 })).toBe('-a-|', { a: 4 });
    });
  });
});
