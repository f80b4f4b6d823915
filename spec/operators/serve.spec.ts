import { NEVER, of, throwError } from 'rxjs';
import { accepted, fakeSocket, FakeListener, testScheduler, type FakeSocket } from '../marbles';
import { type Admitted, Limiter, serve } from '../../src';

const listener = new FakeListener(() => 0);

function admitted(limiter = new Limiter(10)): Admitted & { socket: FakeSocket } {
  const socket = fakeSocket();
  return { ...accepted(listener, socket), token: limiter.admit(socket)! } as Admitted & { socket: FakeSocket };
}

describe('serve', () => {
  it("emits what the handlers emit and, when each completes, releases its token and destroys its socket", () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions, flush }) => {
      const limiter = new Limiter(10);
      const a = admitted(limiter);
      const b = admitted(limiter);
      const source = cold('-a--b-|', { a, b });
      const handled = { a: cold('--x|', { x: 'a1' }), b: cold('-y-z|', { y: 'b1', z: 'b2' }) };
      const output = source.pipe(serve((c) => (c === a ? handled.a : handled.b)));
      expectObservable(output).toBe('---x-y-z|', { x: 'a1', y: 'b1', z: 'b2' });
      expectSubscriptions(source.subscriptions).toBe('^-----!');
      expectSubscriptions(handled.a.subscriptions).toBe('-^--!');
      scheduler.schedule(() => {
        expect(a.token.released && a.socket.destroyed).toBe(true);
        expect(b.token.released || b.socket.destroyed).toBe(false);
      }, 5);
      flush();
      expect(limiter.live).toBe(0);
    });
  });

  it('reports a handler error through onError and goes on', () => {
    testScheduler().run(({ cold, expectObservable, flush }) => {
      const a = admitted();
      const b = admitted();
      const boom = new Error('handler failed');
      const reported: unknown[] = [];
      const output = cold('-a-b-|', { a, b }).pipe(
        serve<number>((c) => (c === a ? throwError(() => boom) : cold('-x|', { x: 1 })), { onError: (e, c) => reported.push([e, c]) }),
      );
      expectObservable(output).toBe('----x|', { x: 1 });
      flush();
      expect(reported).toEqual([[boom, a]]);
      expect(a.token.released && a.socket.destroyed).toBe(true);
    });
  });

  it('reports a handler that throws synchronously, and one that returns something not observable', () => {
    const a = admitted();
    const b = admitted();
    const reported: unknown[] = [];
    of(a, b)
      .pipe(
        serve(
          (c) => {
            if (c === a) throw new Error('sync');
            return 42 as never;
          },
          { onError: (e) => reported.push((e as Error).message) },
        ),
      )
      .subscribe();
    expect(reported).toEqual(['sync', expect.stringContaining('42')]);
    expect(a.socket.destroyed && b.socket.destroyed).toBe(true);
  });

  it('ends a connection handed off by two serves in both when its socket closes', () => {
    const a = admitted();
    const completed: string[] = [];
    const first = of(a).pipe(serve(() => undefined));
    const second = of(a).pipe(serve(() => undefined));
    first.subscribe({ complete: () => completed.push('first') });
    second.subscribe({ complete: () => completed.push('second') });
    expect(completed).toEqual([]);
    a.socket.destroy();
    expect(completed).toEqual(['first', 'second']);
  });

  it('keeps a connection whose handler returns nothing until its socket closes', () => {
    const a = admitted();
    let completed = false;
    of(a)
      .pipe(serve(() => undefined))
      .subscribe({ complete: () => (completed = true) });
    expect(a.token.released || a.socket.destroyed || completed).toBe(false);
    expect(a.socket.listenerCount('close')).toBe(2); // the token's and serve's
    a.socket.destroy();
    expect(a.token.released && completed).toBe(true);
  });

  it('ends at once a connection whose socket closed before its handler ran', () => {
    const a = admitted();
    a.socket.destroy();
    let completed = false;
    of(a)
      .pipe(serve(() => undefined))
      .subscribe({ complete: () => (completed = true) });
    expect(completed).toBe(true);
    expect(a.socket.listenerCount('close')).toBe(1); // the token's own; serve added none
  });

  it('hands a resource shortage met by a handler to the listener, not to onError', () => {
    const a = admitted();
    const emfile = Object.assign(new Error('EMFILE: too many open files, open'), { code: 'EMFILE', syscall: 'open' });
    const reported: unknown[] = [];
    of(a)
      .pipe(serve(() => throwError(() => emfile), { onError: (e) => reported.push(e) }))
      .subscribe();
    expect(reported).toEqual([]);
    expect((a.listener as FakeListener).reported).toEqual([emfile]);
    expect(a.token.released && a.socket.destroyed).toBe(true);
  });

  it('writes a handler error to stderr by default', () => {
    const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    of(admitted()).pipe(serve(() => throwError(() => new Error('oops')))).subscribe();
    expect(spy).toHaveBeenCalledWith(expect.stringContaining('connection handler failed for 127.0.0.1:40000'), expect.any(Error));
    spy.mockRestore();
  });

  it('errors the stream when onError throws', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const bad = new Error('onError failed');
      const output = cold('-a', { a: admitted() }).pipe(
        serve(() => throwError(() => new Error('x')), {
          onError: () => {
            throw bad;
          },
        }),
      );
      expectObservable(output).toBe('-#', {}, bad);
    });
  });

  it('passes a source error through and finalizes the live handlers', () => {
    testScheduler().run(({ cold, expectObservable, flush }) => {
      const a = admitted();
      const boom = new Error('source');
      expectObservable(cold<Admitted>('-a-#', { a }, boom).pipe(serve(() => NEVER))).toBe('---#', {}, boom);
      flush();
      expect(a.token.released && a.socket.destroyed).toBe(true);
    });
  });

  it('on early unsubscription unsubscribes from the source and the handlers, releasing every token', () => {
    testScheduler().run(({ hot, cold, expectObservable, expectSubscriptions, flush }) => {
      const a = admitted();
      const handler = cold('----x');
      const source = hot('-a----', { a });
      expectObservable(source.pipe(serve(() => handler)), '^--!').toBe('---');
      expectSubscriptions(source.subscriptions).toBe('^--!');
      expectSubscriptions(handler.subscriptions).toBe('-^-!');
      flush();
      expect(a.token.released && a.socket.destroyed).toBe(true);
    });
  });

  it('completes after the source and every handler have', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a|', { a: admitted() }).pipe(serve(() => cold('---|')))).toBe('---|');
    });
  });

  it('rejects a handler or onError that is not a function, naming it', () => {
    expect(() => serve(42 as never)).toThrow(/serve: handler must be a function, got 42/);
    expect(() => serve(() => NEVER, { onError: 'log' as never })).toThrow(/serve: options.onError must be a function, got "log"/);
  });
});

describe('serve with an AbortSignal', () => {
  it('stops taking connections on abort, lets live ones finish within the grace, then ends the rest', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable, expectSubscriptions, flush }) => {
      const controller = new AbortController();
      const a = admitted();
      const b = admitted();
      const source = hot('-a-b------c--', { a, b, c: admitted() });
      const handlers = { a: cold('--x|', { x: 'a' }), b: cold('------------y|', { y: 'b' }) };
      const output = source.pipe(serve<string>((c) => (c === a ? handlers.a : handlers.b), { signal: controller.signal, graceMs: 5 }));
      scheduler.schedule(() => controller.abort(), 4);
      expectObservable(output).toBe('---x-----|', { x: 'a' });
      expectSubscriptions(source.subscriptions).toBe('^---!');
      expectSubscriptions(handlers.b.subscriptions).toBe('---^-----!');
      flush();
      expect(b.token.released && b.socket.destroyed).toBe(true);
    });
  });

  it('completes as soon as the last live connection ends within the grace', () => {
    const scheduler = testScheduler();
    scheduler.run(({ hot, cold, expectObservable }) => {
      const controller = new AbortController();
      const source = hot('-a----', { a: admitted() });
      scheduler.schedule(() => controller.abort(), 2);
      expectObservable(source.pipe(serve(() => cold('---|'), { signal: controller.signal, graceMs: 100 }))).toBe('----|');
    });
  });

  it('takes nothing when the signal has already aborted', () => {
    const values: unknown[] = [];
    let completed = false;
    of(admitted())
      .pipe(serve(() => of(1), { signal: AbortSignal.abort() }))
      .subscribe({ next: (v) => values.push(v), complete: () => (completed = true) });
    expect(values).toEqual([]);
    expect(completed).toBe(true);
  });

  it('rejects a signal that is not an AbortSignal and a bad grace, naming them', () => {
    expect(() => serve(() => NEVER, { signal: {} as AbortSignal })).toThrow(/serve: options.signal must be an AbortSignal/);
    expect(() => serve(() => NEVER, { graceMs: -1 })).toThrow(/serve: options.graceMs/);
  });
});
