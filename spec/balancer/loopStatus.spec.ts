import { concat, NEVER, of, take } from 'rxjs';
import { accepted, fakeSocket, FakeListener, testScheduler } from '../marbles';
import { fakeEventLoop } from '../support/eventLoop';
import { agentCheck, agentReply, LoopStatus } from '../../src/balancer';
import { backpressure, handleErrors, Limiter } from '../../src';
import { Metrics } from '../../src/metrics';

function loop(limit = 4) {
  const listener = new FakeListener(() => 0);
  const limiter = new Limiter(limit);
  const metrics = new Metrics(limiter);
  concat(of(accepted(listener)), NEVER).pipe(metrics.count(), handleErrors(), backpressure(limiter)).subscribe();
  return { listener, limiter, status: new LoopStatus(metrics, limiter) };
}

describe('LoopStatus', () => {
  // The loop's time as the specs set it (ms since the start), idle unless they say otherwise.
  let loopTime = { idle: 0, active: 0 };
  let spy: jest.SpyInstance;
  beforeEach(() => {
    loopTime = { idle: 0, active: 0 };
    spy = fakeEventLoop(() => loopTime);
  });
  afterEach(() => spy.mockRestore());

  it('is accepting with the room left as headroom, paused while a listener is, then draining and stopped', () => {
    const { listener, limiter, status } = loop(4);
    expect(status.state).toEqual({ phase: 'accepting', pauses: [], live: 1, limit: 4, waiting: 0, queueSize: 511, busy: 0, headroom: 0.75 });
    const resume = listener.pause('shortage');
    expect(status.state).toMatchObject({ phase: 'paused', pauses: ['shortage'], headroom: 0 });
    resume();
    status.drain();
    expect(status.state).toMatchObject({ phase: 'draining', headroom: 0 });
    expect(limiter.admit(fakeSocket())!.retiring).toBe(false); // serving as before while it drains
    status.stop();
    expect(status.state.phase).toBe('stopped');
    status.drain(); // too late: stays stopped
    expect(status.state.phase).toBe('stopped');
  });

  it('has headroom 1 without a limiter while accepting', () => {
    expect(new LoopStatus(new Metrics()).state).toEqual({ phase: 'accepting', pauses: [], live: 0, limit: 0, waiting: 0, queueSize: 0, busy: 0, headroom: 1 });
  });

  it("reads the loop's busy share over the last 100 to 200 ms, and leaves no more headroom than idle time", () => {
    const { status } = loop(4); // 1 live of 4: room 0.75
    const at = (idle: number, active: number) => ((loopTime = { idle, active }), status.state);
    expect(at(30, 30)).toMatchObject({ busy: 0.5, headroom: 0.5 }); // 60 ms since the status was made
    expect(at(50, 150)).toMatchObject({ busy: 0.75, headroom: 0.25 }); // 200 ms, 150 busy: idle is the lesser room
    expect(at(60, 160)).toMatchObject({ busy: 0.73, headroom: 0.27 }); // 20 ms later: the same window, up to now (160 of 220)
    expect(at(160, 160)).toMatchObject({ busy: 0.08, headroom: 0.75 }); // the last 120 ms, 10 busy (in hundredths): the limit is the lesser room
    expect(at(1160, 160)).toMatchObject({ busy: 0, headroom: 0.75 }); // a second all idle
    expect(at(1160, 1160)).toMatchObject({ busy: 1, headroom: 0 }); // a second all busy: no room, whatever the limit
  });

  it('measures capacity as exchanges per second of busy time, once 3 have completed in a window, and keeps the last figure', () => {
    const { limiter, status } = loop(10);
    const at = (idle: number, active: number) => ((loopTime = { idle, active }), status.state.capacity);
    const exchanges = (n: number) => {
      for (let i = 0; i < n; i++) limiter.admit(fakeSocket())!.release();
    };
    expect(at(0, 0)).toBeUndefined(); // the first window begins
    exchanges(2);
    expect(at(50, 20)).toBeUndefined(); // 2 of 3
    exchanges(1);
    expect(at(60, 30)).toBe(100); // 3 in 30 ms of busy time
    exchanges(4);
    expect(at(70, 38)).toBe(500); // the next window: 4 in 8 ms
    exchanges(1);
    expect(at(20_000, 40)).toBe(500); // 1 in a quiet window of 20 s: the figure stays, the window begins again
    exchanges(3);
    expect(at(20_010, 43)).toBe(1000); // 3 in the 3 ms of busy time since (not 4 in 5 ms: the quiet window was dropped)
    expect(new LoopStatus(new Metrics()).state.capacity).toBeUndefined(); // no limiter: no exchanges counted
  });

  it('emits the state at once and whenever it changes, in virtual time', () => {
    testScheduler().run(({ expectObservable, cold }) => {
      const { listener, status } = loop(4);
      let resume: () => void = () => undefined;
      cold('--a---b', { a: 1, b: 2 }).subscribe((v) => (v === 1 ? (resume = listener.pause('limit')) : resume()));
      const accepting = status.state;
      const paused = { ...accepting, phase: 'paused', pauses: ['limit'], headroom: 0 };
      expectObservable(status.changes(1).pipe(take(3))).toBe('a-b---(c|)', { a: accepting, b: paused, c: accepting });
    });
  });

  it('rejects a bad period, naming it', () => {
    expect(() => new LoopStatus(new Metrics()).changes(0)).toThrow('LoopStatus.changes: ms must be an integer >= 1, got 0');
  });
});

describe('agentReply', () => {
  const state = { pauses: [], live: 0, limit: 10, waiting: 0, queueSize: 0, busy: 0, capacity: undefined };
  it.each([
    [{ phase: 'accepting', headroom: 0.734 }, 'ready up 73%\n'],
    [{ phase: 'accepting', headroom: 0 }, 'ready up 1%\n'],
    [{ phase: 'paused', headroom: 0 }, 'drain\n'],
    [{ phase: 'draining', headroom: 0 }, 'drain\n'],
    [{ phase: 'stopped', headroom: 0 }, 'maint\n'],
  ] as const)('answers %p with %p', (phase, line) => {
    expect(agentReply({ ...state, ...phase })).toBe(line);
  });

  it.each([
    [{ headroom: 0.9, capacity: 100 }, 'ready up 10%\n'], // a tenth of the full weight's capacity
    [{ headroom: 0.9, capacity: 5000 }, 'ready up 90%\n'], // faster than that: the headroom decides
    [{ headroom: 0.05, capacity: 800 }, 'ready up 5%\n'],
    [{ headroom: 0.9, capacity: undefined }, 'ready up 90%\n'], // not known yet: the headroom alone
  ] as const)('with fullWeightAt 1000, weighs %p by capacity too', (measured, line) => {
    expect(agentReply({ ...state, phase: 'accepting', ...measured }, { fullWeightAt: 1000 })).toBe(line);
    expect(agentReply({ ...state, phase: 'paused', ...measured }, { fullWeightAt: 1000 })).toBe('drain\n');
  });

  it('rejects bad options, naming them', () => {
    const status = new LoopStatus(new Metrics());
    expect(() => agentCheck(status, { fullWeightAt: 0 })).toThrow('agentCheck: options.fullWeightAt must be a number > 0, got 0');
    expect(() => agentCheck(status, { fullWeightAt: NaN })).toThrow('agentCheck: options.fullWeightAt must be a number > 0, got NaN');
    expect(() => agentCheck(status, null as never)).toThrow('agentCheck: options must be an object, got null');
  });
});
