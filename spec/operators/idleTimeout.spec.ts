import { of } from 'rxjs';
import { Limiter } from '../../src/limiter';
import { backpressure } from '../../src/operators/backpressure';
import { idleTimeout } from '../../src/operators/idleTimeout';
import type { Accepted } from '../../src/result';
import { accepted, fakeSocket, FakeListener, testScheduler } from '../marbles';

/** A fake socket whose idle timer is fired by the test. */
function idleSocket() {
  const socket = fakeSocket();
  const timeouts: number[] = [];
  socket.setTimeout = ((ms: number) => {
    timeouts.push(ms);
    return socket;
  }) as typeof socket.setTimeout;
  return Object.assign(socket, { timeouts, goIdle: () => socket.emit('timeout') });
}

describe('idleTimeout', () => {
  const listener = new FakeListener(() => 0);

  it('passes connections through and arms their idle timer', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions, flush }) => {
      const socket = idleSocket();
      const a = accepted(listener, socket);
      const source = cold('-a-|', { a });
      expectObservable(source.pipe(idleTimeout(1000))).toBe('-a-|', { a });
      expectSubscriptions(source.subscriptions).toBe('^--!');
      flush();
      expect(socket.timeouts).toEqual([1000]);
    });
  });

  it('destroys an idle socket, which releases its token', () => {
    const limiter = new Limiter(1);
    const socket = idleSocket();
    of(accepted(listener, socket)).pipe(backpressure(limiter), idleTimeout(50)).subscribe();
    expect(limiter.active).toBe(1);
    socket.goIdle();
    expect(socket.destroyed).toBe(true);
    expect(limiter.active).toBe(0);
  });

  it('passes errors through and unsubscribes early', () => {
    testScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      expectObservable(cold<Accepted>('--#').pipe(idleTimeout(10))).toBe('--#');
      const source = hot<Accepted>('----');
      expectObservable(source.pipe(idleTimeout(10)), '^-!').toBe('---');
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  it('errors the stream when a socket cannot take a timer', () => {
    const socket = fakeSocket();
    const boom = new Error('no timer');
    socket.setTimeout = () => {
      throw boom;
    };
    let error: unknown;
    of(accepted(listener, socket)).pipe(idleTimeout(10)).subscribe({ error: (e) => (error = e) });
    expect(error).toBe(boom);
  });

  it.each([0, -1, 1.5, NaN])('rejects %p, naming the option', (ms) => {
    expect(() => idleTimeout(ms)).toThrow(/idleTimeout: ms must be/);
  });
});
