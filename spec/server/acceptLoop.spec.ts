/* acceptLoop: the one call's policy as one operator, in virtual time (TestScheduler's run mode
 * times asyncScheduler: the shortage pause, the monitors' windows). */
import { of, throwError } from 'rxjs';
import { accepted, failed, fakeSocket, FakeListener, testScheduler } from '../marbles';
import { acceptLoop, type Admitted, type LogFunction } from '../../src';

const noisy = (lines: string[]): LogFunction => (level, message) => void lines.push(`${level}: ${message.split('.')[0]}`);

describe('acceptLoop', () => {
  it('admits connections with a token, completes with the source, and counts them', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const listener = new FakeListener(() => scheduler.now());
      const [a, b] = [accepted(listener), accepted(listener)];
      const source = cold('-a-b-|', { a, b });
      const loop = acceptLoop({ maxLagMs: 0, logger: false });
      expectObservable(source.pipe(loop)).toBe('-a-b-|', {
        a: expect.objectContaining({ socket: a.socket, token: expect.anything() }),
        b: expect.objectContaining({ socket: b.socket, token: expect.anything() }),
      });
      expectSubscriptions(source.subscriptions).toBe('^----!');
      scheduler.schedule(() => expect([loop.limiter.live, loop.metrics.snapshot().accepted]).toEqual([2, 2]), 4);
    });
  });

  it('skips a per-connection error, and pauses on a shortage for pauseMs (logged once, with its hint)', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const c = accepted(listener);
      const lines: string[] = [];
      const source = cold('-r-e 60ms c-|', { r: failed(listener, 'ECONNABORTED'), e: failed(listener, 'EMFILE'), c });
      expectObservable(source.pipe(acceptLoop({ maxLagMs: 0, pauseMs: 50, logger: noisy(lines) }))).toBe('64ms c-|', { c: expect.objectContaining({ socket: c.socket }) });
      flush();
      expect(listener.events).toEqual(['pause@3', 'resume@53']);
      expect(lines).toEqual(['warn: accept error: EMFILE: test, accept']);
    });
  });

  it('passes the source error on, and a logger that throws does not stop the loop', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const listener = new FakeListener(() => scheduler.now());
      const c = accepted(listener);
      const throwing: LogFunction = () => {
        throw new Error('logger down');
      };
      const source = cold('-e-c-#', { e: failed(listener, 'EMFILE'), c }, new Error('listen failed'));
      expectObservable(source.pipe(acceptLoop({ maxLagMs: 0, pauseMs: 1, logger: throwing }))).toBe('---c-#', { c: expect.objectContaining({ socket: c.socket }) }, new Error('listen failed'));
    });
  });

  it('admits from a synchronous source', () => {
    const listener = new FakeListener(() => 0);
    const seen: Admitted[] = [];
    of(accepted(listener), accepted(listener)).pipe(acceptLoop({ maxLagMs: 0, logger: false })).subscribe((c) => seen.push(c));
    expect(seen.map((c) => c.token.released)).toEqual([false, false]);
    expect(throwError(() => new Error('x')).pipe(acceptLoop({ logger: false })).subscribe({ error: () => undefined }).closed).toBe(true);
  });

  it('learns its limits while subscribed only: unsubscribed early, nothing of it stays scheduled', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectSubscriptions, flush }) => {
      scheduler.maxFrames = 60_000; // a monitor left running would be an interval: stop there, and see it below
      const listener = new FakeListener(() => scheduler.now());
      const source = cold('-a---------', { a: accepted(listener) });
      const loop = acceptLoop({ maxLagMs: 100, maxHeapMb: 100_000, maxElu: 1, logger: false });
      const subscription = source.pipe(loop).subscribe();
      scheduler.schedule(() => subscription.unsubscribe(), 1000);
      flush();
      expectSubscriptions(source.subscriptions).toBe('^ 999ms !');
      expect(scheduler.actions).toHaveLength(0);
    });
  });

  it('hands listen what its pauses need: a 503 for what the accept queue held, the newest kept as a batch', () => {
    expect(acceptLoop({ logger: false }).listenOptions).toEqual({ refuse: expect.any(Function), keepNewest: { ms: 67, holdMs: 100 }, announcePause: 0 });
    expect(acceptLoop({ maxLagMs: 0, announcePauseMs: 200, logger: false }).listenOptions).toEqual({ refuse: expect.any(Function), keepNewest: undefined, announcePause: 200 });
  });

  it.each([
    ["counts what a pause's flush answered as arrivals: a client refused while one address flooded alone is told apart from it", false, '10.0.0.2', ['10.0.0.1']],
    ["does not behind a PROXY-protocol balancer: before the header, every address is the balancer's (no second client: still a pause)", true, '127.0.0.1', []],
  ])('%s', (_, proxyProtocol, refusedFrom, afterwards) => {
    const loop = acceptLoop({ proxyProtocol, logger: false });
    const stop = loop.limiter.watchArrivals();
    for (let i = 0; i < 100; i++) loop.limiter.admit(fakeSocket('10.0.0.1'))?.release();
    loop.limiter.stopShedding();
    expect(loop.limiter.shedHeaviest()).toEqual(['10.0.0.1']); // alone: the 30 ms look
    loop.limiter.stopShedding();
    expect(loop.limiter.shedHeaviest()).toEqual([]); // no look within a second: pause
    const refused = Object.assign(fakeSocket(refusedFrom), { end: jest.fn(), resume: jest.fn() });
    loop.listenOptions.refuse!(refused as never);
    expect(refused.end).toHaveBeenCalledWith(expect.stringMatching(/^HTTP\/1\.1 503 /));
    refused.destroy(); // its linger timer ends with it
    loop.limiter.stopShedding();
    expect(loop.limiter.shedHeaviest()).toEqual(afterwards); // a second client seen: the flood shed, no pause; none: a pause
    stop();
  });

  it.each([
    ['an unknown option', { limt: 5 }, /^acceptLoop: options has no "limt"; did you mean "limit"\?/],
    ['null options', null, /^acceptLoop: options must be an object, got null/],
    ['a negative maxLagMs', { maxLagMs: -1 }, /^acceptLoop: options\.maxLagMs must be an integer >= 0, got -1/],
    ['a queueSize of 1.5', { queueSize: 1.5 }, /^acceptLoop: options\.queueSize must be an integer >= 0, got 1\.5/],
  ])('refuses %s at call time, naming the option and the value', (_, options, message) => {
    expect(() => acceptLoop(options as never)).toThrow(message);
  });
});
