import { concat, NEVER, of, take } from 'rxjs';
import { accepted, fakeSocket, FakeListener, testScheduler } from '../marbles';
import { agentReply, backpressure, handleErrors, Limiter, LoopStatus, Metrics } from '../../src';

function loop(limit = 4) {
  const listener = new FakeListener(() => 0);
  const limiter = new Limiter(limit);
  const metrics = new Metrics(limiter);
  concat(of(accepted(listener)), NEVER).pipe(metrics.count(), handleErrors(), backpressure(limiter)).subscribe();
  return { listener, limiter, status: new LoopStatus(metrics, limiter) };
}

describe('LoopStatus', () => {
  it('is accepting with the room left as headroom, paused while a listener is, then draining and stopped', () => {
    const { listener, limiter, status } = loop(4);
    expect(status.state).toEqual({ phase: 'accepting', pauses: [], live: 1, limit: 4, waiting: 0, queueSize: 511, headroom: 0.75 });
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
    expect(new LoopStatus(new Metrics()).state).toEqual({ phase: 'accepting', pauses: [], live: 0, limit: 0, waiting: 0, queueSize: 0, headroom: 1 });
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
  const state = { pauses: [], live: 0, limit: 10, waiting: 0, queueSize: 0 };
  it.each([
    [{ phase: 'accepting', headroom: 0.734 }, 'ready up 73%\n'],
    [{ phase: 'accepting', headroom: 0 }, 'ready up 1%\n'],
    [{ phase: 'paused', headroom: 0 }, 'drain\n'],
    [{ phase: 'draining', headroom: 0 }, 'drain\n'],
    [{ phase: 'stopped', headroom: 0 }, 'maint\n'],
  ] as const)('answers %p with %p', (phase, line) => {
    expect(agentReply({ ...state, ...phase })).toBe(line);
  });
});
