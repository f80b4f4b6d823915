/* The pressure monitors on the real process and in virtual time (their options), and the listener they pause: bounded waits, loopback only. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { asyncScheduler, firstValueFrom, ReplaySubject, take, takeWhile, toArray, type Observable, type Subscription } from 'rxjs';
import { sampleEvery } from '../../src/overload/monitors/sample';
import { fakeEventLoop } from '../support/eventLoop';
import { connectOutcome, sleep } from '../support/net';
import { fakeSocket, testScheduler } from '../marbles';
import { cgroupMemory, eventLoopBusyMs, eventLoopDelayMs, eventLoopUtilization, heapLimitMiB, heapUsedMiB, openFiles, pauseUnderPressure, type Pressure, type PressureWarning, rssMiB, serviceTimeMs } from '../../src/overload';
import { handleErrors, Limiter, listen } from '../../src';

function busy(ms: number): void {
  for (const end = performance.now() + ms; performance.now() < end; );
}

describe('monitors', () => {
  it('eventLoopDelayMs reports a blocked loop in the window it happened, and little otherwise', async () => {
    const readings = firstValueFrom(eventLoopDelayMs({ every: 50, idleEvery: 50 }).pipe(take(4), toArray())); // no calm stretching here
    await sleep(60);
    busy(200); // a CPU-bound handler
    const values = await readings;
    expect(Math.max(...values)).toBeGreaterThanOrEqual(150);
    expect(Math.min(...values)).toBeLessThan(150); // the windows around it read the loop as free again
  });

  it('eventLoopUtilization is near 1 over a window spent busy', async () => {
    const first = firstValueFrom(eventLoopUtilization({ every: 100, idleEvery: 100 }).pipe(take(1)));
    busy(95);
    expect(await first).toBeGreaterThan(0.8);
  });

  it('eventLoopBusyMs reads how long the loop has gone without waiting, and 0 once it has waited', async () => {
    // Readings until the first 0 after the streak (at most 50: a second), however late the
    // windows come on a loaded machine.
    let streak = false;
    const readings = firstValueFrom(
      eventLoopBusyMs({ every: 20, idleEvery: 20 }).pipe(
        take(50),
        takeWhile((v) => !(streak && v === 0) && ((streak ||= v >= 110), true), true),
        toArray(),
      ),
    );
    await sleep(70); // quiet windows first (a loaded machine may make the first one late)
    // Handlers in 30 ms slices with no wait between them: one streak over several windows.
    await new Promise<void>((resolve) => {
      let slices = 0;
      const slice = (): void => void (busy(30), ++slices < 5 ? setImmediate(slice) : resolve());
      setImmediate(slice);
    });
    const values = await readings;
    expect(Math.max(...values)).toBeGreaterThanOrEqual(110);
    expect(values[values.length - 1]).toBe(0); // it has waited since
    // (Each window's reading, exactly, is the next spec's, in virtual time: on a loaded machine
    // the real windows before the streak may hold no wait at all.)
  });

  it('eventLoopBusyMs, window by window in virtual time: 0 while the loop waits, the time since it last waited while it does not', () => {
    // A loop busy from 100 to 250 ms and waiting otherwise, as performance reports it.
    const [from, to] = [100, 250];
    const scheduler = testScheduler();
    const now = jest.spyOn(performance, 'now').mockImplementation(() => scheduler.now());
    const elu = fakeEventLoop(() => {
      const t = scheduler.now();
      const active = Math.max(0, Math.min(t, to) - from);
      return { idle: t - active, active };
    });
    try {
      scheduler.run(({ expectObservable }) => {
        const readings = eventLoopBusyMs({ every: 20, idleEvery: 20, scheduler }).pipe(take(15));
        // Windows end at 20, 40, ... 300: waited in every one up to 100; none from 120 to 240
        // (busy since the wait that ended at 100); at 260 it waited again (250-260).
        expectObservable(readings).toBe('20ms a 19ms b 19ms c 19ms d 19ms e 19ms f 19ms g 19ms h 19ms i 19ms j 19ms k 19ms l 19ms m 19ms n 19ms (o|)', {
          a: 0, b: 0, c: 0, d: 0, e: 0, f: 20, g: 40, h: 60, i: 80, j: 100, k: 120, l: 140, m: 0, n: 0, o: 0,
        });
      });
    } finally {
      now.mockRestore();
      elu.mockRestore();
    }
  });

  it('serviceTimeMs divides the busy time of a window by the exchanges completed in it', async () => {
    const limiter = new Limiter(100);
    const tokens = Array.from({ length: 8 }, () => limiter.admit(fakeSocket())!);
    const reading = firstValueFrom(serviceTimeMs(limiter, { every: 100, idleEvery: 100 }).pipe(take(1)));
    for (const token of tokens) {
      busy(10); // eight exchanges of 10 ms of CPU each
      token.release(); // a connection that ends while busy is one exchange
    }
    const cost = await reading;
    expect(cost).toBeGreaterThanOrEqual(9);
    expect(cost).toBeLessThan(15);
    expect(limiter.counts.completed).toBe(8);
  });

  it('serviceTimeMs reads once 8 exchanges completed, however many windows that took', async () => {
    const limiter = new Limiter(100);
    const readings: number[] = [];
    const subscription = serviceTimeMs(limiter, { every: 50, idleEvery: 50 }).subscribe((cost) => readings.push(cost));
    for (let round = 0; round < 4; round++) {
      for (const token of [limiter.admit(fakeSocket())!, limiter.admit(fakeSocket())!]) {
        busy(10); // two exchanges of 10 ms of CPU a window: alone, each window would read ~10 ms
        token.release();
      }
      await new Promise((resolve) => setTimeout(resolve, 60));
      // Until the eighth, nothing from these (a window more than half busy with jest's own work reads above 50, if any).
      if (round < 3) expect(readings.filter((cost) => cost < 50)).toEqual([]);
    }
    subscription.unsubscribe();
    const costs = readings.filter((cost) => cost < 50);
    expect(costs).toHaveLength(1);
    expect(costs[0]).toBeGreaterThanOrEqual(9);
  });

  it('serviceTimeMs reads nothing from a quiet window in which no exchange completed, and the busy time from a busy one', async () => {
    const limiter = new Limiter(100);
    const token = limiter.admit(fakeSocket())!;
    const readings: number[] = [];
    const subscription = serviceTimeMs(limiter, { every: 100, idleEvery: 100 }).subscribe((cost) => readings.push(cost));
    await new Promise((resolve) => setTimeout(resolve, 350)); // quiet: a timer's cost would read as ~0 ms
    expect(readings.every((cost) => cost > 50)).toBe(true); // a window more than half busy (jest's own work), if any
    const quiet = readings.length;
    busy(150); // an exchange under way, nothing completed
    await new Promise((resolve) => setTimeout(resolve, 10));
    subscription.unsubscribe();
    token.release();
    expect(readings.length).toBeGreaterThan(quiet);
    expect(readings[readings.length - 1]).toBeGreaterThan(50);
  });

  it('heapUsedMiB and rssMiB read MiB, below their limits', async () => {
    const [heap] = await firstValueFrom(heapUsedMiB(10).pipe(take(1), toArray()));
    const [resident] = await firstValueFrom(rssMiB(10).pipe(take(1), toArray()));
    expect(heap).toBeGreaterThan(1);
    expect(heap).toBeLessThan(heapLimitMiB());
    expect(resident).toBeGreaterThan(heap!);
  });

  it('heapUsedMiB above collectAbove and still is read again after a full collection: garbage is not pressure', async () => {
    const read = (): number => getHeapStatistics().used_heap_size / 2 ** 20;
    let garbage: number[][] | undefined = Array.from({ length: 40 }, () => new Array<number>(128 * 1024).fill(1.5)); // 40 MiB
    const held = read();
    expect(garbage.length).toBe(40);
    garbage = undefined; // dead, but counted until V8 collects, and nothing here allocates
    const readings = await firstValueFrom(heapUsedMiB({ every: 20, collectAbove: 0 }).pipe(take(3), toArray()));
    expect(Math.min(...readings)).toBeLessThan(held - 30);
  });

  it.each([-1, NaN])('rejects collectAbove %p, naming it', (collectAbove) => {
    expect(() => heapUsedMiB({ every: 100, collectAbove })).toThrow(`heapUsedMiB: options.collectAbove must be a number >= 0, got ${collectAbove}`);
    expect(() => rssMiB({ every: 100, collectAbove })).toThrow(`rssMiB: options.collectAbove must be a number >= 0, got ${collectAbove}`);
  });

  it('openFiles reads the share of the open-file limit in use, and rejects a bad period or limit', async () => {
    const share = await firstValueFrom(openFiles({ every: 10, limit: 100_000 }).pipe(take(1)));
    expect(share).toBeGreaterThan(0); // jest has files open
    expect(share).toBeLessThan(0.01);
    expect(() => openFiles(0)).toThrow('openFiles: options.every must be an integer >= 1, got 0');
    expect(() => openFiles({ every: 10, limit: 0 })).toThrow('openFiles: options.limit must be an integer >= 1, got 0');
  });

  it('cgroupMemory reads memory.current / memory.max where cgroup v2 limits memory, and completes at once elsewhere', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cgroup-'));
    try {
      writeFileSync(join(root, 'memory.max'), '1000\n');
      writeFileSync(join(root, 'memory.current'), '250\n');
      expect(await firstValueFrom(cgroupMemory({ every: 10, root }).pipe(take(1)))).toBe(0.25);
      writeFileSync(join(root, 'memory.max'), 'max\n');
      expect(await firstValueFrom(cgroupMemory({ every: 10, root }).pipe(toArray()))).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('samples every `every` ms under load and doubles the window up to `idleEvery` while readings stay calm, in virtual time', () => {
    testScheduler().run(({ expectObservable }) => {
      const readings = [0.9, 0.2, 0.1, 0.1, 0.1, 0.95, 0.9];
      const samples = sampleEvery({ every: 20, idleEvery: 100, calm: (value) => value <= 0.5 }, () => () => readings.shift()!);
      // 20: 0.9 (load); calm: the window doubles, 40 then 80 then 100 (the most); load again: 20.
      // At 20 a, 40 b, 80 c, 160 d, 260 e, 360 f (0.95), 380 g.
      expectObservable(samples.pipe(take(7))).toBe('20ms a 19ms b 39ms c 79ms d 99ms e 99ms f 19ms (g|)', { a: 0.9, b: 0.2, c: 0.1, d: 0.1, e: 0.1, f: 0.95, g: 0.9 });
    });
  });

  it.each([0, 1.5, -1])('rejects a window of %p ms, naming it', (every) => {
    expect(() => eventLoopDelayMs(every)).toThrow(/eventLoopDelayMs: options.every must be an integer >= 1/);
    expect(() => rssMiB(every)).toThrow(/rssMiB: options.every must be/);
    expect(() => eventLoopBusyMs({ every, idleEvery: 500 })).toThrow(/eventLoopBusyMs: options.every must be/);
    expect(() => serviceTimeMs(new Limiter(1), { every, idleEvery: 500 })).toThrow(/serviceTimeMs: options.every must be/);
  });
});

/** The first `count` readings of `samples` as [virtual time, value], in a TestScheduler's run (monitors default to `asyncScheduler`, which runs in virtual time there). */
function inVirtualTime(samples: () => Observable<number>, count: number): Array<[number, number]> {
  const scheduler = testScheduler();
  const readings: Array<[number, number]> = [];
  scheduler.run(() => void samples().pipe(take(count)).subscribe((value) => readings.push([scheduler.now(), value])));
  return readings;
}

const times = (readings: Array<[number, number]>): number[] => readings.map(([time]) => time);

/** A cgroup v2 directory of 1 GiB limit with `current` bytes in use. */
function fakeCgroup(current: number): string {
  const root = mkdtempSync(join(tmpdir(), 'cgroup-'));
  writeFileSync(join(root, 'memory.max'), `${2 ** 30}\n`);
  writeFileSync(join(root, 'memory.current'), `${current}\n`);
  return root;
}

describe('monitor options', () => {
  it('a number is `every`: eventLoopDelayMs(100) reads as eventLoopDelayMs({ every: 100 }), stretching calm windows up to 500 ms, in virtual time', () => {
    // No time passes on the loop in virtual time, so no timer is late: every window is calm.
    const expected = [[100, 0], [300, 0], [700, 0], [1200, 0], [1700, 0]];
    expect(inVirtualTime(() => eventLoopDelayMs(100), 5)).toEqual(expected);
    expect(inVirtualTime(() => eventLoopDelayMs({ every: 100 }), 5)).toEqual(expected);
  });

  it.each<[string, () => Observable<number>, () => Observable<number>]>([
    ['eventLoopBusyMs', () => eventLoopBusyMs(30), () => eventLoopBusyMs({ every: 30 })],
    ['eventLoopUtilization', () => eventLoopUtilization(30), () => eventLoopUtilization({ every: 30 })],
    ['serviceTimeMs', () => serviceTimeMs(new Limiter(1), 30), () => serviceTimeMs(new Limiter(1), { every: 30 })],
    ['heapUsedMiB', () => heapUsedMiB(30), () => heapUsedMiB({ every: 30 })],
    ['rssMiB', () => rssMiB(30), () => rssMiB({ every: 30 })],
    ['openFiles', () => openFiles(1000), () => openFiles({ every: 1000 })],
  ])('a number is `every` for %s: readings at the same times as with { every }, in virtual time', (_, asNumber, asOptions) => {
    const readings = inVirtualTime(asNumber, 4);
    expect(readings).toHaveLength(4);
    expect(times(inVirtualTime(asOptions, 4))).toEqual(times(readings));
  });

  it('the loop monitors keep `every` while the loop is busy, and a long `every` alone is taken (idleEvery defaults to it)', () => {
    // A TestScheduler's run is all work and no wait: every window is busy, none stretches.
    expect(times(inVirtualTime(() => eventLoopUtilization({ every: 30, idleEvery: 300 }), 3))).toEqual([30, 60, 90]);
    expect(times(inVirtualTime(() => eventLoopBusyMs(1000), 2))).toEqual([1000, 2000]);
    expect(times(inVirtualTime(() => eventLoopDelayMs(1000), 2))).toEqual([1000, 2000]); // calm, but never shorter than `every`
  });

  it('memory that holds still stretches the period up to idleEvery, and a change brings it back to every, in virtual time', () => {
    const root = fakeCgroup(2 ** 28); // a quarter of the limit
    try {
      testScheduler().run(({ expectObservable }) => {
        const samples = cgroupMemory({ every: 10, idleEvery: 40, root });
        // 10 (the first reading has none before it), 20, 40, 80, then half the limit at 100: 120, 130, 150.
        asyncScheduler.schedule(() => writeFileSync(join(root, 'memory.current'), `${2 ** 29}\n`), 100); // virtual in run()
        expectObservable(samples.pipe(take(7))).toBe('10ms a 9ms a 19ms a 39ms a 39ms b 9ms b 19ms (b|)', { a: 0.25, b: 0.5 });
      });
      // Without idleEvery it never stretches, as before.
      expect(times(inVirtualTime(() => cgroupMemory({ every: 10, root }), 4))).toEqual([10, 20, 30, 40]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('times its periods on the scheduler it is given', () => {
    const scheduler = testScheduler(); // not in run(): only the scheduler given runs in virtual time (up to 750 frames)
    const delays: number[] = [];
    const files: number[] = [];
    eventLoopDelayMs({ every: 100, idleEvery: 100, scheduler }).pipe(take(2)).subscribe(() => delays.push(scheduler.now()));
    openFiles({ every: 300, scheduler, limit: 100_000 }).pipe(take(2)).subscribe(() => files.push(scheduler.now()));
    scheduler.flush();
    expect([delays, files]).toEqual([[100, 200], [300, 600]]);
  });

  it.each<[string, () => unknown, string]>([
    ['every', () => eventLoopDelayMs({ every: 0 }), 'eventLoopDelayMs: options.every must be an integer >= 1, got 0'],
    ['every', () => heapUsedMiB({ every: 2.5 }), 'heapUsedMiB: options.every must be an integer >= 1, got 2.5'],
    ['every', () => cgroupMemory({ every: NaN }), 'cgroupMemory: options.every must be a number, got NaN'],
    ['idleEvery < every', () => eventLoopDelayMs({ every: 100, idleEvery: 50 }), 'eventLoopDelayMs: options.idleEvery must be an integer >= 100, got 50'],
    ['idleEvery < every', () => eventLoopBusyMs({ every: 20, idleEvery: 10 }), 'eventLoopBusyMs: options.idleEvery must be an integer >= 20, got 10'],
    ['idleEvery < every', () => eventLoopUtilization({ every: 20, idleEvery: 10 }), 'eventLoopUtilization: options.idleEvery must be an integer >= 20, got 10'],
    ['idleEvery < every', () => serviceTimeMs(new Limiter(1), { idleEvery: 50 }), 'serviceTimeMs: options.idleEvery must be an integer >= 100, got 50'],
    ['idleEvery < every', () => rssMiB({ every: 1000, idleEvery: 999 }), 'rssMiB: options.idleEvery must be an integer >= 1000, got 999'],
    ['idleEvery < every', () => openFiles({ every: 1000, idleEvery: 10 }), 'openFiles: options.idleEvery must be an integer >= 1000, got 10'],
    ['collectAbove', () => heapUsedMiB({ collectAbove: -1 }), 'heapUsedMiB: options.collectAbove must be a number >= 0, got -1'],
    ['collectAbove', () => rssMiB({ collectAbove: 'high' as never }), 'rssMiB: options.collectAbove must be a number >= 0, got "high"'],
    ['root', () => cgroupMemory({ root: '' }), 'cgroupMemory: options.root must be a non-empty string, got ""'],
    ['root', () => cgroupMemory({ root: 7 as never }), 'cgroupMemory: options.root must be a non-empty string, got 7'],
    ['limit', () => openFiles({ limit: 0 }), 'openFiles: options.limit must be an integer >= 1, got 0'],
    ['limit', () => openFiles({ limit: 1.5 }), 'openFiles: options.limit must be an integer >= 1, got 1.5'],
    ['scheduler', () => eventLoopDelayMs({ scheduler: {} as never }), 'eventLoopDelayMs: options.scheduler.schedule must be a function, got undefined'],
    ['options', () => eventLoopUtilization(null as never), 'eventLoopUtilization: options must be an object, got null'],
    ['options', () => heapUsedMiB('fast' as never), 'heapUsedMiB: options must be an object, got "fast"'],
    ['limiter', () => serviceTimeMs(undefined as never), 'serviceTimeMs: limiter must be an object, got undefined'],
  ])('rejects a bad %s at call time, naming the function, the option and the value: %#', (_, call, message) => {
    expect(call).toThrow(message);
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
    const delay = { name: 'eventLoopDelay', samples: eventLoopDelayMs({ every: 20, idleEvery: 20 }), above: 100, below: 50, unit: 'ms' };
    const warnings = await refusesThenAccepts(delay, 100, () => busy(300)); // the first client's handler hogs the loop
    expect(warnings).toHaveLength(1);
  });
});

describe('a listener paused by a busy event loop', () => {
  it('refuses new clients while handlers keep the loop busy longer than the threshold, and accepts again once it waits', async () => {
    const loop = { name: 'eventLoopBusy', samples: eventLoopBusyMs({ every: 10, idleEvery: 10 }), above: 100, below: 0, unit: 'ms' };
    // The first client's handler hogs the loop in 30 ms slices, with no wait between them.
    const warnings = await refusesThenAccepts(loop, 10, () => {
      for (let i = 0; i < 8; i++) setImmediate(() => busy(30));
    });
    expect(warnings.map((w) => w.signal)).toEqual(['eventLoopBusy']);
    expect(warnings[0]!.value).toBeGreaterThan(100);
  });
});
