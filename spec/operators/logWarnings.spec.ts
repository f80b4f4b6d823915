import { of } from 'rxjs';
import { accepted, failed, FakeListener, testScheduler } from '../marbles';
import { type AcceptResult, type AcceptWarning, logWarnings } from '../../src';

describe('logWarnings', () => {
  const listener = new FakeListener(() => 0);

  it('passes every result through and logs a shortage with its hint and structured fields', () => {
    testScheduler().run(({ cold, expectObservable, expectSubscriptions, flush }) => {
      const v = { a: accepted(listener), r: failed(listener, 'EMFILE'), x: failed(listener, 'ECONNRESET') };
      const source = cold('-a-r-x-|', v);
      const entries: AcceptWarning[] = [];
      expectObservable(source.pipe(logWarnings((w) => entries.push(w)))).toBe('-a-r-x-|', v);
      expectSubscriptions(source.subscriptions).toBe('^------!');
      flush();
      expect(entries).toHaveLength(1);
      const [entry] = entries;
      expect(entry).toMatchObject({ code: 'EMFILE', syscall: 'accept', during: 'accept', suppressed: 0, error: v.r.error });
      expect(entry!.hint).toContain('ulimit -n');
      expect(entry!.message).toBe(`accept error: EMFILE: test, accept. ${entry!.hint}`);
    });
  });

  it('logs at most one entry per window, counting the shortages it suppressed', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const r = failed(listener, 'EMFILE');
      const source = cold('r 99ms r 99ms r 99ms r 999ms r 9ms |', { r });
      const lines: string[] = [];
      const output = source.pipe(logWarnings((w) => lines.push(`${scheduler.now()} suppressed ${w.suppressed}`), { window: 500 }));
      expectObservable(output).toBe('r 99ms r 99ms r 99ms r 999ms r 9ms |', { r });
      flush();
      // First at once; the other three within the window collapse into one entry at its end;
      // the one after a quiet second is logged at once again.
      expect(lines).toEqual(['0 suppressed 0', '500 suppressed 2', '1300 suppressed 0']);
    });
  });

  it('says in the message how many were suppressed', () => {
    testScheduler().run(({ cold, flush }) => {
      const r = failed(listener, 'ENFILE');
      const messages: string[] = [];
      cold('r-r-r|', { r }).pipe(logWarnings((w) => messages.push(w.message), { window: 10 })).subscribe();
      flush();
      expect(messages[1]).toContain('(1 more suppressed)');
    });
  });

  it('logs failures to listen again, and unknown codes, but not per-connection errors', () => {
    testScheduler().run(({ cold, flush }) => {
      const v = {
        l: failed(listener, 'EADDRINUSE', { during: 'resume', syscall: 'listen' }),
        u: failed(listener, 'EWEIRD'),
        x: failed(listener, 'ECONNABORTED'),
      };
      const codes: (string | undefined)[] = [];
      cold('l 9ms x 9ms u|', v).pipe(logWarnings((w) => codes.push(w.code), { window: 5 })).subscribe();
      flush();
      expect(codes).toEqual(['EADDRINUSE', 'EWEIRD']);
    });
  });

  it('completes after the last window has been logged, losing nothing', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const r = failed(listener, 'EMFILE');
      let logged = 0;
      expectObservable(cold('r-r|', { r }).pipe(logWarnings(() => logged++, { window: 10 }))).toBe('r-r 7ms |', { r });
    });
  });

  it('passes a source error through', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<AcceptResult>('--#').pipe(logWarnings(() => undefined))).toBe('--#');
    });
  });

  it('unsubscribes from the source and cancels its window timer on early unsubscription', () => {
    testScheduler().run(({ hot, expectObservable, expectSubscriptions, flush }) => {
      const r = failed(listener, 'EMFILE');
      const source = hot('r-r-r-r', { r });
      let logged = 0;
      expectObservable(source.pipe(logWarnings(() => logged++, { window: 100 })), '^--!').toBe('r-r', { r });
      expectSubscriptions(source.subscriptions).toBe('^--!');
      flush();
      expect(logged).toBe(1); // the trailing entry of a window cut short is not logged late
    });
  });

  it('handles a synchronous source', () => {
    const r = failed(listener, 'EMFILE');
    const logged: number[] = [];
    const seen: AcceptResult[] = [];
    of(r, accepted(listener)).pipe(logWarnings((w) => logged.push(w.suppressed), { window: 0 })).subscribe((v) => seen.push(v));
    expect(seen).toHaveLength(2);
    expect(logged).toEqual([0]);
  });

  it('errors the stream when the log function throws', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const boom = new Error('log failed');
      const r = failed(listener, 'EMFILE');
      const output = cold('-r-r', { r }).pipe(
        logWarnings(() => {
          throw boom;
        }),
      );
      expectObservable(output).toBe('-#', {}, boom);
    });
  });

  it('rejects a log that is not a function and a bad window, naming them', () => {
    expect(() => logWarnings(undefined as never)).toThrow(/logWarnings: log must be a function, got undefined/);
    expect(() => logWarnings(() => undefined, { window: -5 })).toThrow(/logWarnings: options.window must be a finite number of milliseconds >= 0, got -5/);
  });
});
