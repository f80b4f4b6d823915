import type { Socket } from 'node:net';
import { of, tap } from 'rxjs';
import { accepted, fakeSocket, FakeListener, testScheduler } from '../marbles';
import { type Accepted, type Admitted, backpressure, Limiter } from '../../src';

describe('backpressure', () => {
  const noWarnings = jest.spyOn(process, 'emitWarning');
  beforeEach(() => noWarnings.mockReset().mockImplementation(() => undefined));
  afterAll(() => noWarnings.mockRestore());

  it('emits each connection with a token and pauses the listener at the limit until one is released', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const a = accepted(listener);
      const b = accepted(listener);
      const c = accepted(listener);
      const source = cold('-a-b-----c-|', { a, b, c });
      const admitted: Admitted[] = [];
      const output = source.pipe(backpressure(2, { queueSize: 0 }), tap((v) => admitted.push(v)));
      expectObservable(output).toBe('-a-b-----c-|', {
        a: expect.objectContaining({ socket: a.socket, token: expect.anything() }),
        b: expect.objectContaining({ socket: b.socket }),
        c: expect.objectContaining({ socket: c.socket }),
      });
      expectSubscriptions(source.subscriptions).toBe('^----------!');
      scheduler.schedule(() => a.socket.destroy(), 7);
      flush();
      // Paused when the second token was issued (3), resumed when the first socket closed (7),
      // full again with c (9); the pause is released when the stream ends (11).
      expect(listener.events).toEqual(['pause@3', 'resume@7', 'pause@9', 'resume@11']);
      expect(admitted.map((v) => v.token.released)).toEqual([true, false, false]);
    });
  });

  it('queues connections beyond the limit, first in first out, and pauses only when the queue is full too', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const [a, b, c, d, e] = [1, 2, 3, 4, 5].map(() => accepted(listener));
      const source = cold('-a-b-c---d---e---|', { a, b, c, d, e });
      const limiter = new Limiter(2, { queueSize: 1 });
      expectObservable(source.pipe(backpressure(limiter))).toBe('-a-b---c---d-----|', {
        a: expect.objectContaining({ socket: a!.socket }),
        b: expect.objectContaining({ socket: b!.socket }),
        c: expect.objectContaining({ socket: c!.socket }),
        d: expect.objectContaining({ socket: d!.socket }),
      });
      expectSubscriptions(source.subscriptions).toBe('^----------------!');
      scheduler.schedule(() => a!.socket.destroy(), 7);
      scheduler.schedule(() => b!.socket.destroy(), 11);
      scheduler.schedule(() => expect(limiter.waiting).toBe(1), 14);
      flush();
      // Queue full at c (5), d (9) and e (13): paused until a slot takes the waiting one.
      expect(listener.events).toEqual(['pause@5', 'resume@7', 'pause@9', 'resume@11', 'pause@13', 'resume@17']);
      // e still waited when the source completed: closed, not leaked.
      expect(e!.socket.destroyed).toBe(true);
      expect([limiter.waiting, limiter.counts.queued, limiter.counts.admittedFromQueue, limiter.counts.dropped]).toEqual([0, 3, 2, 0]);
    });
  });

  it('ends a connection that waited too long through onQueueTimeout, and one whose client gave up', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const [a, b, c] = [1, 2, 3].map(() => accepted(listener));
      const timedOut: Socket[] = [];
      const limiter = new Limiter(1, { queueTimeout: 10, onQueueTimeout: (socket) => void timedOut.push(socket), scheduler });
      expectObservable(cold('ab-c', { a, b, c }).pipe(backpressure(limiter))).toBe('a---', { a: expect.anything() });
      scheduler.schedule(() => c!.socket.destroy(), 5); // c's client resets while it waits
      flush();
      expect(timedOut).toEqual([b!.socket]); // at 11: b waited 10 ms
      expect([limiter.counts.queueTimeouts, limiter.counts.gaveUp, limiter.waiting, limiter.live]).toEqual([1, 1, 0, 1]);
      expect(listener.events).toEqual([]); // the queue was never full
    });
  });

  it('errors the stream when onQueueTimeout throws, closing that socket', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const boom = new Error('hook failed');
      const [a, b] = [1, 2].map(() => accepted(listener));
      const limiter = new Limiter(1, { queueTimeout: 3, scheduler, onQueueTimeout: () => { throw boom; } });
      expectObservable(cold('ab---', { a, b }).pipe(backpressure(limiter))).toBe('a---#', { a: expect.anything() }, boom);
      flush();
      expect(b!.socket.destroyed).toBe(true);
    });
  });

  it('closes the connection idle the longest to admit a waiting one, never a busy one', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const conns = [1, 2, 3, 4].map(() => accepted(listener));
      const admitted: Admitted[] = [];
      cold('abc-d', { a: conns[0], b: conns[1], c: conns[2], d: conns[3] })
        .pipe(backpressure(2, { queueTimeout: Infinity }))
        .subscribe((v) => admitted.push(v));
      scheduler.schedule(() => admitted[0]!.token.idle(), 1); // a idle, b busy; c waits from 2
      flush();
      expect(conns.map((c) => c.socket.destroyed)).toEqual([true, false, false, false]);
      expect(admitted.map((v) => v.socket)).toEqual([conns[0]!.socket, conns[1]!.socket, conns[2]!.socket]);
      expect(admitted[1]!.token.retiring).toBe(true); // d waits: b should close after its exchange
    });
  });

  it('on unsubscription closes what waits and lets admitted connections close as they go idle', () => {
    const listener = new FakeListener(() => 0);
    const limiter = new Limiter(1);
    const [a, b] = [accepted(listener), accepted(listener)];
    const admitted: Admitted[] = [];
    const subscription = of(a, b).pipe(backpressure(limiter)).subscribe((v) => admitted.push(v));
    subscription.unsubscribe();
    expect([b.socket.destroyed, a.socket.destroyed]).toEqual([true, false]);
    expect(admitted[0]!.token.retiring).toBe(true);
    admitted[0]!.token.idle();
    expect(a.socket.destroyed).toBe(true);
    expect(limiter.live).toBe(0);
  });

  it('shares a Limiter whose limit can change live; lowering it never touches live connections', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const limiter = new Limiter(3, { queueSize: 0 });
      const conns = [accepted(listener), accepted(listener)];
      cold('ab', { a: conns[0], b: conns[1] }).pipe(backpressure(limiter)).subscribe();
      scheduler.schedule(() => limiter.setLimit(1), 5);
      scheduler.schedule(() => conns[0]!.socket.destroy(), 10);
      scheduler.schedule(() => conns[1]!.socket.destroy(), 20);
      scheduler.schedule(() => limiter.setLimit(1), 30);
      flush();
      expect(listener.events).toEqual(['pause@5', 'resume@20']);
      expect(conns.every((c) => c.socket.destroyed)).toBe(true);
      expect(limiter.live).toBe(0);
    });
  });

  it('drops a connection that arrives over the limit, and counts it', () => {
    const listener = new FakeListener(() => 0);
    const limiter = new Limiter(1, { queueSize: 0 });
    const extra = accepted(listener, fakeSocket());
    const out: Admitted[] = [];
    of(accepted(listener), extra).pipe(backpressure(limiter)).subscribe((v) => out.push(v));
    expect(out).toHaveLength(1);
    expect((extra.socket as ReturnType<typeof fakeSocket>).destroyed).toBe(true);
    expect(limiter.counts.dropped).toBe(1);
  });

  it('passes a source error through and releases its pause', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const source = cold<Accepted>('-a-#', { a: accepted(listener) });
      expectObservable(source.pipe(backpressure(1))).toBe('-a-#', { a: expect.anything() });
      flush();
      expect(listener.pauses).toEqual([]);
    });
  });

  it('unsubscribes from the source and from the limiter on early unsubscription', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, expectObservable, expectSubscriptions, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const limiter = new Limiter(1, { queueSize: 0 });
      let changes = 0;
      limiter.changes.subscribe(() => changes++);
      const source = hot('-a--b', { a: accepted(listener), b: accepted(listener) });
      expectObservable(source.pipe(backpressure(limiter)), '^--!').toBe('-a-', { a: expect.anything() });
      expectSubscriptions(source.subscriptions).toBe('^--!');
      flush();
      expect(listener.events).toEqual(['pause@1', 'resume@3']);
      expect(limiter.live).toBe(1); // the live connection keeps its slot
      expect(changes).toBe(1);
    });
  });

  it('handles a synchronous source', () => {
    const listener = new FakeListener(() => 0);
    let completed = false;
    const out: Admitted[] = [];
    of(accepted(listener), accepted(listener))
      .pipe(backpressure(5))
      .subscribe({ next: (v) => out.push(v), complete: () => (completed = true) });
    expect(out).toHaveLength(2);
    expect(completed).toBe(true);
  });

  it("errors the stream when a listener's pause throws", () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const boom = new Error('pause failed');
      const listener = { pause: () => { throw boom; }, pauses: [], pauseTotals: () => new Map(), refused: 0, report: () => undefined, address: () => null };
      expectObservable(cold('-a', { a: accepted(listener) }).pipe(backpressure(1, { queueSize: 0 }))).toBe('-#', {}, boom);
    });
  });

  it('warns at subscription when the limit and the queue cannot fit in the open-file limit', () => {
    of<Accepted>().pipe(backpressure(10_000_000)).subscribe();
    expect(noWarnings).toHaveBeenCalledWith(expect.stringContaining('connection limit 10000000 with a queue of 511 cannot fit in the open-file limit'), {
      code: 'RXJS_LISTEN_FILE_LIMIT',
    });
    noWarnings.mockClear();
    of<Accepted>().pipe(backpressure(10)).subscribe();
    expect(noWarnings).not.toHaveBeenCalled();
  });

  it.each([0, -1, 1.5, NaN])('rejects the limit %p at call time, naming it', (limit) => {
    expect(() => backpressure(limit)).toThrow(/limit must be/);
  });
});
