import { of, tap } from 'rxjs';
import { Limiter } from '../../src/limiter';
import { backpressure, type Admitted } from '../../src/operators/backpressure';
import type { Accepted } from '../../src/result';
import { accepted, fakeSocket, FakeListener, testScheduler } from '../marbles';

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
      const output = source.pipe(backpressure(2), tap((v) => admitted.push(v)));
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

  it('shares a Limiter whose limit can change live; lowering it never touches live connections', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const limiter = new Limiter(3);
      const conns = [accepted(listener), accepted(listener)];
      cold('ab', { a: conns[0], b: conns[1] }).pipe(backpressure(limiter)).subscribe();
      scheduler.schedule(() => limiter.setLimit(1), 5);
      scheduler.schedule(() => conns[0]!.socket.destroy(), 10);
      scheduler.schedule(() => conns[1]!.socket.destroy(), 20);
      scheduler.schedule(() => limiter.setLimit(1), 30);
      flush();
      expect(listener.events).toEqual(['pause@5', 'resume@20']);
      expect(conns.every((c) => c.socket.destroyed)).toBe(true);
      expect(limiter.active).toBe(0);
    });
  });

  it('drops a connection that arrives over the limit, and counts it', () => {
    const listener = new FakeListener(() => 0);
    const limiter = new Limiter(1);
    const extra = accepted(listener, fakeSocket());
    const out: Admitted[] = [];
    of(accepted(listener), extra).pipe(backpressure(limiter)).subscribe((v) => out.push(v));
    expect(out).toHaveLength(1);
    expect((extra.socket as ReturnType<typeof fakeSocket>).destroyed).toBe(true);
    expect(limiter.dropped).toBe(1);
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
      const limiter = new Limiter(1);
      let changes = 0;
      limiter.changes.subscribe(() => changes++);
      const source = hot('-a--b', { a: accepted(listener), b: accepted(listener) });
      expectObservable(source.pipe(backpressure(limiter)), '^--!').toBe('-a-', { a: expect.anything() });
      expectSubscriptions(source.subscriptions).toBe('^--!');
      flush();
      expect(listener.events).toEqual(['pause@1', 'resume@3']);
      expect(limiter.active).toBe(1); // the live connection keeps its slot
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
      const listener = { pause: () => { throw boom; }, pauses: [], report: () => undefined };
      expectObservable(cold('-a', { a: accepted(listener) }).pipe(backpressure(1))).toBe('-#', {}, boom);
    });
  });

  it('warns at subscription when the limit cannot fit in the open-file limit', () => {
    of<Accepted>().pipe(backpressure(10_000_000)).subscribe();
    expect(noWarnings).toHaveBeenCalledWith(expect.stringContaining('connection limit 10000000 cannot fit in the open-file limit'), {
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
