import { concat, NEVER, of, take } from 'rxjs';
import { accepted, failed, fakeSocket, FakeListener, testScheduler } from '../marbles';
import { backpressure, Limiter } from '../../src';
import { Metrics, toPrometheus } from '../../src/metrics';

describe('Metrics', () => {
  it('counts accepted connections, skipped errors and shortages, and reads the limiter and the pauses', () => {
    const listener = new FakeListener(() => 0);
    const limiter = new Limiter(1, { queueTimeout: Infinity });
    const metrics = new Metrics(limiter);
    const results = [accepted(listener), failed(listener, 'ECONNRESET'), failed(listener, 'EMFILE'), accepted(listener)];
    of(...results).pipe(metrics.count()).subscribe();
    limiter.admit(fakeSocket());
    const waiting = fakeSocket();
    concat(of(accepted(listener, waiting)), NEVER).pipe(backpressure(limiter)).subscribe(); // waits for the slot
    const resume = listener.pause('shortage');
    expect(metrics.snapshot()).toEqual({
      accepted: 2,
      connectionErrors: 1,
      shortages: 1,
      live: 1,
      limit: 1,
      queueSize: 511,
      inFlight: 0,
      exchangeLimit: Infinity,
      completed: 0,
      dropped: 0,
      droppedPerPeer: 0,
      droppedPerPeerRate: 0,
      droppedHeaviest: 0,
      waiting: 1,
      idleByProtocol: {},
      queued: 1,
      admittedFromQueue: 0,
      queueTimeouts: 0,
      gaveUp: 0,
      reclaimed: 0,
      shedRequests: 0,
      paused: true,
      pauses: ['shortage'],
      pauseTotals: { shortage: { count: 1, seconds: expect.any(Number) } },
      refused: 0,
      queueWait: { bounds: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], buckets: new Array(11).fill(0), sum: 0, count: 0 },
    });
    resume();
    waiting.destroy();
    expect(metrics.snapshot()).toMatchObject({ paused: false, waiting: 0, gaveUp: 1 });
  });

  it('reads the pauses of every listener it counted, each reason once', () => {
    const [first, second] = [new FakeListener(() => 0), new FakeListener(() => 0)];
    const metrics = new Metrics();
    of(accepted(first), accepted(second), accepted(first)).pipe(metrics.count()).subscribe();
    const resumes = [first.pause('limit'), second.pause('limit'), second.pause('shortage')];
    expect(metrics.snapshot()).toMatchObject({ accepted: 3, paused: true, pauses: ['limit', 'shortage'] });
    resumes.forEach((resume) => resume());
    expect(metrics.snapshot()).toMatchObject({ paused: false, pauses: [] });
  });

  it('emits a snapshot at once and every period, in virtual time', () => {
    testScheduler().run(({ expectObservable }) => {
      const metrics = new Metrics();
      const live = metrics.every(1000).pipe(take(3));
      const s = metrics.snapshot();
      expectObservable(live).toBe('a 999ms b 999ms (c|)', { a: s, b: s, c: s });
    });
  });

  it('writes the Prometheus text format', () => {
    const text = toPrometheus(new Metrics(new Limiter(7)).snapshot());
    expect(text).toContain('# TYPE rxjs_listen_accepted_total counter\nrxjs_listen_accepted_total 0\n');
    expect(text).toContain('rxjs_listen_connection_limit 7\n');
    expect(text).toContain('rxjs_listen_paused 0\n');
    expect(text).toContain('rxjs_listen_queue_size 511\n');
    expect(text).not.toContain('paused_by');
    expect(text).not.toContain('idle_connections');
  });

  it('writes one idle_connections series per protocol with idle connections', () => {
    const text = toPrometheus({ ...new Metrics().snapshot(), idleByProtocol: { 'http/1.1': 3, h2: 1 } });
    expect(text.match(/^rxjs_listen_idle_connections\{.*$/gm)).toEqual(['rxjs_listen_idle_connections{protocol="http/1.1"} 3', 'rxjs_listen_idle_connections{protocol="h2"} 1']);
  });

  it('writes one paused_by series per reason holding the listener paused, with the reason escaped', () => {
    const stats = { ...new Metrics().snapshot(), paused: true, pauses: ['limit', 'pressure:eventLoopBusy', 'limit', 'odd"name'] };
    const text = toPrometheus(stats);
    expect(text.match(/^rxjs_listen_paused_by\{.*$/gm)).toEqual([
      'rxjs_listen_paused_by{reason="limit"} 1',
      'rxjs_listen_paused_by{reason="pressure:eventLoopBusy"} 1',
      'rxjs_listen_paused_by{reason="odd_name"} 1',
    ]);
  });

  it('rejects a bad period, naming it', () => {
    expect(() => new Metrics().every(0)).toThrow(/Metrics.every: ms must be an integer >= 1, got 0/);
  });
});
