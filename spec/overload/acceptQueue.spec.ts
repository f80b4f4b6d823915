/* acceptQueueMs: how long every event-loop turn has found a connection waiting in the kernel's
 * accept queue. Real sockets: clients connect from a worker thread while this thread's loop is
 * blocked, so they queue in the kernel; Node then takes one a turn, and a scheduler driven by
 * hand takes one reading in each turn's check phase. */
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { filter, ReplaySubject, Subscription, take, type SchedulerAction, type SchedulerLike } from 'rxjs';
import { first, later, WAIT_MS } from '../support/net';
import { testScheduler } from '../marbles';
import { acceptQueueMs, type AcceptQueueOptions } from '../../src/overload';
import { listen, type Accepted, type AcceptResult } from '../../src';

/**
 * A scheduler whose work runs only at `tick()`: one reading of a monitor per tick, at the point
 * of the event loop the test chooses. (Its clock stands still: the monitor reads real time.)
 */
class HandScheduler implements SchedulerLike {
  #pending: (() => void)[] = [];

  now(): number {
    return 0;
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, _delay = 0, state?: T): Subscription {
    const action = new Subscription(() => {
      this.#pending = this.#pending.filter((run) => run !== entry);
    }) as SchedulerAction<T>;
    action.schedule = (next?: T, delay?: number) => this.schedule(work, delay, next);
    const entry = (): void => {
      if (!action.closed) work.call(action, state);
    };
    this.#pending.push(entry);
    return action;
  }

  /** Runs the work due now (not what it schedules in turn). */
  tick(): void {
    for (const run of this.#pending.splice(0)) run();
  }
}

// The worker's clients: connect, and set `flag` once all are connected (each handshake done:
// the kernel holds them in the accept queue); closed when the worker is terminated.
const CLIENTS = `
const net = require('node:net');
const { workerData } = require('node:worker_threads');
const { port, n, flag } = workerData;
let connected = 0;
for (let i = 0; i < n; i++) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.on('connect', () => {
    if (++connected === n) {
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    }
  });
}
`;

/** The next turn of the event loop: resolves in its check phase. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('acceptQueueMs', () => {
  let subscription: Subscription | undefined;
  afterEach(() => {
    subscription?.unsubscribe();
    subscription = undefined;
  });

  it('reads 0 while no connection arrives', async () => {
    expect(await first(acceptQueueMs({ every: 5 }))).toBe(0);
    const hand = new HandScheduler();
    const readings: number[] = [];
    subscription = acceptQueueMs({ every: 1, scheduler: hand }).subscribe((ms) => readings.push(ms));
    for (let i = 0; i < 3; i++) {
      await nextTurn();
      hand.tick();
    }
    expect(readings).toEqual([0, 0, 0]);
  });

  it('reads every 10 ms by default, doubling the window up to 100 ms while it reads 0, in virtual time', () => {
    testScheduler().run(({ expectObservable }) => {
      // 10, then calm: 20, 40, 80, then the most, 100: at 10, 30, 70, 150, 250, 350.
      expectObservable(acceptQueueMs().pipe(take(6))).toBe('10ms a 19ms a 39ms a 79ms a 99ms a 99ms (a|)', { a: 0 });
    });
  });

  /**
   * Queues `queued` clients while the loop is blocked, then takes one reading a turn until three
   * turns after the last was taken: how many had been taken by each, and the reading. The handler
   * spins `spinMs(i)` ms on the i-th connection: a turn that serves work.
   */
  async function queueAndRead(queued: number, options: AcceptQueueOptions, spinMs: (i: number) => number = () => 0): Promise<{ accepted: number; ms: number }[]> {
    const results = new ReplaySubject<AcceptResult>();
    const address = new ReplaySubject<AddressInfo | string>(1);
    subscription = listen({ host: '127.0.0.1', port: 0, onListening: (a) => address.next(a) }).subscribe(results);
    let accepted = 0;
    subscription.add(
      results.pipe(filter((r): r is Accepted => r.type === 'connection')).subscribe(({ socket }) => {
        const until = performance.now() + spinMs(accepted++);
        while (performance.now() < until);
        socket.destroy();
      }),
    );
    const { port } = (await first(address)) as AddressInfo;

    const hand = new HandScheduler();
    const readings: number[] = [];
    subscription.add(acceptQueueMs({ ...options, every: 1, scheduler: hand }).subscribe((ms) => readings.push(ms)));
    hand.tick();
    expect(readings).toEqual([0]); // nothing queued yet

    const flag = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(CLIENTS, { eval: true, workerData: { port, n: queued, flag } });
    try {
      expect(Atomics.wait(flag, 0, 0, WAIT_MS)).toBe('ok'); // the loop blocked while they connect
      expect(accepted).toBe(0);
      // One reading a turn, with how many connections had been taken by then.
      const samples: { accepted: number; ms: number }[] = [];
      const deadline = Date.now() + WAIT_MS;
      let afterAll = 0;
      while (afterAll < 3 && Date.now() < deadline) {
        await nextTurn();
        hand.tick();
        samples.push({ accepted, ms: readings.at(-1)! });
        if (accepted === queued) afterAll++;
      }
      expect(accepted).toBe(queued);
      return samples;
    } finally {
      await worker.terminate();
    }
  }

  it('reads > 0 at every turn that still finds a queued connection, growing, and 0 again once a turn finds none', async () => {
    const QUEUED = 8;
    const samples = await queueAndRead(QUEUED, {});
    // Node takes one a turn: the queue took several turns to empty.
    const during = samples.filter((s) => s.accepted > 0 && s.accepted < QUEUED);
    expect(during.length).toBeGreaterThanOrEqual(QUEUED - 2);
    // Every turn that found one, with more still queued behind it, reads the streak: > 0.
    expect(during.filter((s) => !(s.ms > 0))).toEqual([]);
    // The streak only grows while it lasts (it reads time since the queue was last empty).
    const streak = samples.filter((s) => s.ms > 0).map((s) => s.ms);
    expect(streak).toEqual([...streak].sort((a, b) => a - b));
    // Once a turn took none, 0 again: by the second turn after the last was taken. (In the
    // first one this reading may come before the streak's own check, in the same check phase.)
    expect(samples.at(-1)).toEqual({ accepted: QUEUED, ms: 0 });
    // And it stays 0 while nothing arrives.
    const hand = new HandScheduler();
    const readings: number[] = [];
    subscription!.add(acceptQueueMs({ every: 1, scheduler: hand }).subscribe((ms) => readings.push(ms)));
    await later(20);
    hand.tick();
    expect(readings.at(-1)).toBe(0);
  });

  it('with minTurnMs, reads 0 through a streak of fast turns (connections only taken)', async () => {
    const samples = await queueAndRead(8, { minTurnMs: 1000 });
    expect(samples.filter((s) => s.ms !== 0)).toEqual([]);
  });

  it('with minTurnMs, reads a streak of turns that serve work, and in full until it ends once read slow', async () => {
    // The first three connections cost 5 ms each, the other nine nothing: the average falls below 2 ms
    // per connection, yet the streak reads on until the queue is empty.
    const samples = await queueAndRead(12, { minTurnMs: 2 }, (i) => (i < 3 ? 5 : 0));
    const during = samples.filter((s) => s.accepted >= 3 && s.accepted < 12);
    expect(during.length).toBeGreaterThanOrEqual(12 - 3 - 2);
    expect(during.filter((s) => !(s.ms > 0))).toEqual([]);
    expect(samples.at(-1)).toEqual({ accepted: 12, ms: 0 });
  });

  it.each<[string, () => unknown, RegExp | string]>([
    ['every 0', () => acceptQueueMs({ every: 0 }), 'acceptQueueMs: options.every must be an integer >= 1, got 0'],
    ['every 0 as a number', () => acceptQueueMs(0), 'acceptQueueMs: options.every must be an integer >= 1, got 0'],
    ['every 1.5', () => acceptQueueMs({ every: 1.5 }), 'acceptQueueMs: options.every must be an integer >= 1, got 1.5'],
    ['idleEvery < every', () => acceptQueueMs({ every: 50, idleEvery: 20 }), 'acceptQueueMs: options.idleEvery must be an integer >= 50, got 20'],
    ['minTurnMs -1', () => acceptQueueMs({ minTurnMs: -1 }), 'acceptQueueMs: options.minTurnMs must be a number >= 0, got -1'],
  ])('rejects %s with a RangeError naming acceptQueueMs and the option', (_, call, message) => {
    expect(call).toThrow(RangeError);
    expect(call).toThrow(message);
  });

  it('rejects options that are not an object, or a scheduler without schedule, with a TypeError', () => {
    expect(() => acceptQueueMs(null as never)).toThrow(new TypeError('acceptQueueMs: options must be an object, got null'));
    expect(() => acceptQueueMs({ scheduler: {} as never })).toThrow(new TypeError('acceptQueueMs: options.scheduler.schedule must be a function, got undefined'));
  });
});
