/* The pressure monitors on the real process, and the listener they pause: bounded waits, loopback only. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { firstValueFrom, ReplaySubject, take, toArray, type Subscription } from 'rxjs';
import { adaptiveLimit } from '../../src/overload/adaptiveLimit';
import { Limiter } from '../../src/limit/limiter';
import { listen } from '../../src/source/listen';
import { eventLoopBusy } from '../../src/overload/monitors/eventLoopBusy';
import { eventLoopDelay } from '../../src/overload/monitors/eventLoopDelay';
import { eventLoopUtilization } from '../../src/overload/monitors/eventLoopUtilization';
import { cgroupMemory, heapLimitMiB, heapUsed, rss } from '../../src/overload/monitors/memory';
import { openFiles } from '../../src/overload/monitors/openFiles';
import { sampleEvery } from '../../src/overload/monitors/sample';
import { serviceTime } from '../../src/overload/monitors/serviceTime';
import { handleErrors } from '../../src/operators/handleErrors';
import { pauseUnderPressure, type Pressure, type PressureWarning } from '../../src/operators/pauseUnderPressure';
import { connectOutcome, sleep } from '../support/net';
import { fakeSocket, testScheduler } from '../marbles';

function busy(ms: number): void {
  for (const end = performance.now() + ms; performance.now() < end; );
}

describe('monitors', () => {
  it('eventLoopDelay reports a blocked loop in the window it happened, and little otherwise', async () => {
    const readings = firstValueFrom(eventLoopDelay(50, undefined, 50).pipe(take(4), toArray())); // no calm stretching here
    await sleep(60);
    busy(200); // a CPU-bound handler
    const values = await readings;
    expect(Math.max(...values)).toBeGreaterThanOrEqual(150);
    expect(Math.min(...values)).toBeLessThan(150); // the windows around it read the loop as free again
  });

  it('eventLoopUtilization is near 1 over a window spent busy', async () => {
    const first = firstValueFrom(eventLoopUtilization(100, undefined, 100).pipe(take(1)));
    busy(95);
    expect(await first).toBeGreaterThan(0.8);
  });

  it('eventLoopBusy reads how long the loop has gone without waiting, and 0 once it has waited', async () => {
    const readings = firstValueFrom(eventLoopBusy(20, undefined, 20).pipe(take(10), toArray()));
    await sleep(30);
    // Handlers in 30 ms slices with no wait between them: one streak over several windows.
    await new Promise<void>((resolve) => {
      let slices = 0;
      const slice = (): void => void (busy(30), ++slices < 5 ? setImmediate(slice) : resolve());
      setImmediate(slice);
    });
    const values = await readings;
    expect(Math.max(...values)).toBeGreaterThanOrEqual(110);
    expect(values[values.length - 1]).toBe(0); // it has waited since
    expect(values.filter((v) => v === 0).length).toBeGreaterThanOrEqual(2); // before and after
  });

  it('serviceTime divides the busy time of a window by the exchanges completed in it', async () => {
    const limiter = new Limiter(100);
    const tokens = Array.from({ length: 4 }, () => limiter.admit(fakeSocket())!);
    const reading = firstValueFrom(serviceTime(limiter, 100, undefined, 100).pipe(take(1)));
    for (const token of tokens) {
      busy(20); // four exchanges of 20 ms of CPU each
      token.release(); // a connection that ends while busy is one exchange
    }
    const cost = await reading;
    expect(cost).toBeGreaterThanOrEqual(19);
    expect(cost).toBeLessThan(30);
    expect(limiter.completed).toBe(4);
  });

  it('heapUsed and rss read MiB, below their limits', async () => {
    const [heap] = await firstValueFrom(heapUsed(10).pipe(take(1), toArray()));
    const [resident] = await firstValueFrom(rss(10).pipe(take(1), toArray()));
    expect(heap).toBeGreaterThan(1);
    expect(heap).toBeLessThan(heapLimitMiB());
    expect(resident).toBeGreaterThan(heap!);
  });

  it('heapUsed above collectAbove and still is read again after a full collection: garbage is not pressure', async () => {
    const read = (): number => getHeapStatistics().used_heap_size / 2 ** 20;
    let garbage: number[][] | undefined = Array.from({ length: 40 }, () => new Array<number>(128 * 1024).fill(1.5)); // 40 MiB
    const held = read();
    expect(garbage.length).toBe(40);
    garbage = undefined; // dead, but counted until V8 collects, and nothing here allocates
    const readings = await firstValueFrom(heapUsed(20, undefined, 0).pipe(take(3), toArray()));
    expect(Math.min(...readings)).toBeLessThan(held - 30);
  });

  it.each([-1, NaN])('rejects collectAbove %p, naming it', (collectAbove) => {
    expect(() => heapUsed(100, undefined, collectAbove)).toThrow(`heapUsed: collectAbove must be a number of MiB >= 0, got ${collectAbove}`);
    expect(() => rss(100, undefined, collectAbove)).toThrow(`rss: collectAbove must be a number of MiB >= 0, got ${collectAbove}`);
  });

  it('openFiles reads the share of the open-file limit in use, and rejects a bad period or limit', async () => {
    const share = await firstValueFrom(openFiles(10, undefined, 100_000).pipe(take(1)));
    expect(share).toBeGreaterThan(0); // jest has files open
    expect(share).toBeLessThan(0.01);
    expect(() => openFiles(0)).toThrow('openFiles: every must be an integer >= 1, got 0');
    expect(() => openFiles(10, undefined, 0)).toThrow('openFiles: limit must be an integer >= 1, got 0');
  });

  it('cgroupMemory reads memory.current / memory.max where cgroup v2 limits memory, and completes at once elsewhere', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cgroup-'));
    try {
      writeFileSync(join(root, 'memory.max'), '1000\n');
      writeFileSync(join(root, 'memory.current'), '250\n');
      expect(await firstValueFrom(cgroupMemory(10, undefined, root).pipe(take(1)))).toBe(0.25);
      writeFileSync(join(root, 'memory.max'), 'max\n');
      expect(await firstValueFrom(cgroupMemory(10, undefined, root).pipe(toArray()))).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('samples every `ms` under load and doubles the window up to `idleMs` while readings stay calm, in virtual time', () => {
    testScheduler().run(({ expectObservable }) => {
      const readings = [0.9, 0.2, 0.1, 0.1, 0.1, 0.95, 0.9];
      const samples = sampleEvery('test', 20, undefined, () => () => readings.shift()!, undefined, { idleMs: 100, calm: (value) => value <= 0.5 });
      // 20: 0.9 (load); calm: the window doubles, 40 then 80 then 100 (the most); load again: 20.
      // At 20 a, 40 b, 80 c, 160 d, 260 e, 360 f (0.95), 380 g.
      expectObservable(samples.pipe(take(7))).toBe('20ms a 19ms b 39ms c 79ms d 99ms e 99ms f 19ms (g|)', { a: 0.9, b: 0.2, c: 0.1, d: 0.1, e: 0.1, f: 0.95, g: 0.9 });
    });
  });

  it.each([0, 1.5, -1])('rejects a window of %p ms, naming it', (every) => {
    expect(() => eventLoopDelay(every)).toThrow(/eventLoopDelay: every must be an integer >= 1/);
    expect(() => rss(every)).toThrow(/rss: every must be/);
    expect(() => eventLoopBusy(every, undefined, 500)).toThrow(/eventLoopBusy: every must be/);
    expect(() => serviceTime(new Limiter(1), every, undefined, 500)).toThrow(/serviceTime: every must be/);
  });
});

/**
 * A listener paused by `pressure`, whose first client's handler runs `hog`; it checks that new
 * clients are refused, then accepted again. Returns the pauses logged.
 */
async function refusesThenAccepts(pressure: Pressure, minPause: number, hog: () => void): Promise<PressureWarning[]> {
  const address = new ReplaySubject<AddressInfo>(1);
  const warnings: PressureWarning[] = [];
  let clients = 0;
  subscription = listen({ host: '127.0.0.1', port: 0, onListening: (a) => address.next(a as AddressInfo) })
    .pipe(pauseUnderPressure([pressure], { minPause, onPause: (w) => warnings.push(w) }), handleErrors())
    .subscribe(({ socket }) => {
      socket.on('error', () => undefined); // the probing client resets
      socket.end('hi\n');
      if (clients++ === 0) hog();
    });
  const { port } = await firstValueFrom(address);
  expect(await connectOutcome(port)).toBe('connected');
  let refused = false;
  for (let i = 0; i < 100 && !refused; i++) refused = (await connectOutcome(port)) === 'ECONNREFUSED';
  expect(refused).toBe(true);
  let accepted = false;
  for (let i = 0; i < 100 && !accepted; i++) accepted = (await connectOutcome(port)) === 'connected' || (await sleep(10), false);
  expect(accepted).toBe(true);
  return warnings;
}

let subscription: Subscription | undefined;
afterEach(() => subscription?.unsubscribe());

describe('a listener paused by event-loop delay', () => {
  it('refuses new clients while a handler blocks the loop, logs it once, and accepts again after', async () => {
    const delay = { name: 'eventLoopDelay', samples: eventLoopDelay(20, undefined, 20), above: 100, below: 50, unit: 'ms' };
    const warnings = await refusesThenAccepts(delay, 100, () => busy(300)); // the first client's handler hogs the loop
    expect(warnings).toHaveLength(1);
  });
});

describe('a listener paused by a busy event loop', () => {
  it('refuses new clients while handlers keep the loop busy longer than the threshold, and accepts again once it waits', async () => {
    const loop = { name: 'eventLoopBusy', samples: eventLoopBusy(10, undefined, 10), above: 100, below: 0, unit: 'ms' };
    // The first client's handler hogs the loop in 30 ms slices, with no wait between them.
    const warnings = await refusesThenAccepts(loop, 10, () => {
      for (let i = 0; i < 8; i++) setImmediate(() => busy(30));
    });
    expect(warnings.map((w) => w.signal)).toEqual(['eventLoopBusy']);
    expect(warnings[0]!.value).toBeGreaterThan(100);
  });
});

describe('adaptiveLimit', () => {
  it('lowers the limit by a factor on each reading above the target, and raises it by one while it is reached', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const limiter = new Limiter(10, { queue: 0 });
      for (let i = 0; i < 10; i++) limiter.admit(fakeSocket());
      const lag = cold('-h-h-l-l-|', { h: 300, l: 10 });
      // 10 -> 9 -> 8 (above), then full (10 live): 9, 10 (max).
      expectObservable(adaptiveLimit(limiter, lag, { target: 100, min: 2 })).toBe('-a-b-c-d-|', { a: 9, b: 8, c: 9, d: 10 });
    });
  });

  it('decreases from the live count when fewer are live than the limit allows, so the first reading above binds', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const limiter = new Limiter(1000);
      for (let i = 0; i < 40; i++) limiter.admit(fakeSocket());
      const heap = cold('-h-|', { h: 90 });
      expectObservable(adaptiveLimit(limiter, heap, { target: 60, decrease: 0.5 })).toBe('-a-|', { a: 20 });
    });
  });

  it('stays within min and does not grow while the limit is not reached', () => {
    testScheduler().run(({ cold, expectObservable }) => {
      const limiter = new Limiter(3);
      const lag = cold('hhhll|', { h: 300, l: 10 });
      // 3 -> 2 (above), then held at min; below the target it does not grow: nothing is waiting.
      expectObservable(adaptiveLimit(limiter, lag, { target: 100, min: 2, max: 8 })).toBe('a----|', { a: 2 });
    });
  });

  it.each([
    [{ target: 0 }, /options.target must be a number > 0, got 0/],
    [{ target: 10, min: 0 }, /options.min must be an integer >= 1, got 0/],
    [{ target: 10, min: 5, max: 4 }, /options.max must be an integer >= 5, got 4/],
    [{ target: 10, decrease: 1 }, /options.decrease must be a number between 0 and 1, got 1/],
  ])('rejects %p, naming the option and the value', (options, message) => {
    expect(() => adaptiveLimit(new Limiter(5), testScheduler().createColdObservable('-'), options)).toThrow(message);
  });
});
