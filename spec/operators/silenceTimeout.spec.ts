import { of, Subject } from 'rxjs';
import { accepted, fakeSocket, FakeListener, testScheduler, type FakeSocket } from '../marbles';
import { type Accepted, backpressure, silenceTimeout, Limiter } from '../../src';

describe('silenceTimeout', () => {
  const listener = new FakeListener(() => 0);

  it('passes connections through and closes one silent for ms (checked every ms / 5), whatever its own timer says', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions, flush }) => {
      const quiet = fakeSocket();
      const chatty = fakeSocket();
      const a = accepted(listener, quiet);
      const b = accepted(listener, chatty);
      const source = cold('-a-b-|', { a, b });
      expectObservable(source.pipe(silenceTimeout(100))).toBe('-a-b-|', { a, b });
      expectSubscriptions(source.subscriptions).toBe('^----!');
      const closedAt: Record<string, number> = {};
      quiet.on('close', () => (closedAt.quiet = scheduler.now()));
      chatty.on('close', () => (closedAt.chatty = scheduler.now()));
      // chatty moves a byte every 60 ms until 300, then falls silent (as after a keep-alive response).
      for (let t = 60; t <= 300; t += 60) scheduler.schedule(() => (chatty.bytesWritten += 10), t);
      flush();
      // quiet: counters first read at 21, closed at the check 100 ms later.
      // chatty: its last byte at 300 is seen by the check at 301, closed at 401 (within 1.2 × ms).
      expect(closedAt).toEqual({ quiet: 121, chatty: 401 });
      expect(scheduler.actions.filter((action) => !action.closed)).toEqual([]); // no check left running
    });
  });

  it('releases the token of the connection it closes, and keeps watching after its source completes', () => {
    testScheduler().run(({ flush }) => {
      const limiter = new Limiter(1);
      const socket = fakeSocket();
      let completed = false;
      of(accepted(listener, socket)).pipe(backpressure(limiter), silenceTimeout(50)).subscribe({ complete: () => (completed = true) });
      expect([completed, limiter.live]).toEqual([true, 1]);
      flush();
      expect([socket.destroyed, limiter.live]).toEqual([true, 0]);
    });
  });

  it('forgets a socket that closes by itself, and stops checking when none is left', () => {
    const scheduler = testScheduler();
    scheduler.run(({ flush }) => {
      const socket = fakeSocket();
      const results = new Subject<Accepted>();
      results.pipe(silenceTimeout(1000)).subscribe();
      results.next(accepted(listener, socket));
      scheduler.schedule(() => socket.destroy(), 10);
      flush();
      expect(scheduler.now()).toBe(200); // the first check found nobody to watch and stopped
    });
  });

  it('passes errors through and, on early unsubscription, stops watching', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions, flush }) => {
      expectObservable(cold<Accepted>('--#').pipe(silenceTimeout(10))).toBe('--#');
      const socket: FakeSocket = fakeSocket();
      const source = hot<Accepted>('-a--', { a: accepted(listener, socket) });
      expectObservable(source.pipe(silenceTimeout(10)), '^-!').toBe('-a-', { a: expect.anything() });
      expectSubscriptions(source.subscriptions).toBe('^-!');
      flush();
      expect(socket.destroyed).toBe(false); // no check ran after unsubscription
      expect(socket.listenerCount('close')).toBe(0);
    });
  });

  it('handles a synchronous source and a socket closed on arrival; errors the stream on a socket whose counters throw', () => {
    testScheduler().run(({ flush }) => {
      const closed = fakeSocket();
      closed.destroy();
      const broken = fakeSocket();
      Object.defineProperty(broken, 'bytesRead', { get: () => { throw new Error('no counters'); } });
      const seen: Accepted[] = [];
      let error: unknown;
      const results = new Subject<Accepted>();
      results.pipe(silenceTimeout(10)).subscribe({ next: (c) => seen.push(c), error: (e) => (error = e) });
      of(accepted(listener, closed), accepted(listener, broken)).subscribe((c) => results.next(c));
      expect(seen).toHaveLength(2);
      flush();
      expect((error as Error).message).toBe('no counters');
    });
  });

  it.each([0, -1, 1.5, NaN])('rejects %p, naming the option', (ms) => {
    expect(() => silenceTimeout(ms)).toThrow(/silenceTimeout: ms must be/);
  });
});
