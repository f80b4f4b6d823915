import { readFileSync } from 'node:fs';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { defer, EMPTY, type Observable } from 'rxjs';
import { checkNumber, checkString } from '../../util/validate';
import { settleOptions, type MonitorOptions, type Settled } from './options';
import { sampleEvery } from './sample';

const MiB = 1024 * 1024;

/** A reading within this of the one before means nothing is allocating (MiB). */
const STILL_MIB = 1;

let collector: (() => void) | undefined;

/**
 * Runs V8's full garbage collection, whether or not the process runs with --expose-gc.
 *
 * It is `gc` when the process runs with --expose-gc, else obtained the usual way in a running
 * process, which Node does not document (the flag set, `gc` read from a new context, the flag
 * cleared, so user code sees no global `gc` appear; checked on Node 20, 22, 24 and 26 by
 * spec/overload/monitors.spec.ts in CI).
 *
 * @example
 * collectGarbage(); // then read the heap: what is left is live
 *
 * @returns Nothing: the heap is collected when it returns.
 */
function collectGarbage(): void {
  if (collector === undefined) {
    const global = (globalThis as { gc?: () => void }).gc;
    if (typeof global === 'function') collector = global;
    else {
      setFlagsFromString('--expose-gc');
      collector = runInNewContext('gc') as () => void;
      setFlagsFromString('--no-expose-gc');
    }
  }
  collector();
}

/**
 * A memory reader that tells live memory from garbage when it matters.
 *
 * Memory in use counts dead objects until the next collection, and V8 collects when something allocates: a process
 * paused for memory allocates nothing, so its reading would never fall and the pause would
 * never end (measured: a listener paused at 79 MiB stayed paused with nothing live). So a
 * reading above `collectAbove` that has not moved since the last one is taken again after a
 * full collection (a few ms for tens of MiB; under load the heap moves, V8 collects by itself,
 * and this never runs).
 *
 * @example
 * const read = liveReader(() => process.memoryUsage.rss() / MiB, 800); // one per subscription
 *
 * @param read Reads memory in use, MiB.
 * @param collectAbove MiB: a still reading above this is taken again after a collection.
 * @returns The reader, keeping the reading before.
 */
function liveReader(read: () => number, collectAbove: number): () => number {
  let last = NaN;
  return () => {
    let value = read();
    if (value > collectAbove && Math.abs(value - last) < STILL_MIB) {
      collectGarbage();
      value = read();
    }
    last = value;
    return value;
  };
}

/** Options of {@link heapUsedMiB} and {@link rssMiB}. */
export interface MemoryOptions extends MonitorOptions {
  /**
   * MiB: a reading above this that has not moved since the one before (nothing allocates, so
   * nothing collects) is taken again after a full garbage collection. A number >= 0; give it
   * the mark to resume at. Default `Infinity` (never collect).
   */
  collectAbove?: number;
}

/** Options of {@link cgroupMemory}. */
export interface CgroupMemoryOptions extends MonitorOptions {
  /** Where cgroup v2 is mounted for this process: the directory of its `memory.max` and `memory.current`. Default `/sys/fs/cgroup`. */
  root?: string;
}

const DEFAULTS = { every: 1000 }; // and no stretching unless idleEvery says so

/**
 * {@link sampleEvery} whose period stretches while memory holds still.
 *
 * The period doubles up to `idleEvery` while each reading is within `within` of the one
 * before. The reading before is kept per subscription, and looked at only when the period can
 * stretch (`idleEvery` above `every`).
 *
 * @example
 * stillSamples(settled, STILL_MIB, () => liveReader(read, collectAbove));
 *
 * @param settled The periods and the scheduler.
 * @param within How far a reading may be from the one before and still be still.
 * @param start Called at subscription: returns the reader.
 * @returns Cold: it runs only while subscribed.
 */
function stillSamples(settled: Settled<MonitorOptions>, within: number, start: () => () => number): Observable<number> {
  return defer(() => {
    let last = NaN;
    const calm = (value: number): boolean => {
      const still = Math.abs(value - last) < within;
      last = value;
      return still;
    };
    return sampleEvery({ ...settled, calm }, start);
  });
}

/**
 * What {@link heapUsedMiB} and {@link rssMiB} share: their options, checked, and the samples.
 *
 * @example
 * memoryMiB('rssMiB', { every: 1000, collectAbove: 1600 }, () => process.memoryUsage.rss() / MiB);
 *
 * @param caller The function called, for errors to name.
 * @param options As {@link heapUsedMiB} takes them.
 * @param read Reads memory in use, MiB.
 * @returns Cold: it runs only while subscribed.
 */
function memoryMiB(caller: string, options: number | MemoryOptions | undefined, read: () => number): Observable<number> {
  const settled = settleOptions(caller, options, DEFAULTS);
  const collectAbove = checkNumber(settled.name('collectAbove'), settled.collectAbove === undefined ? Infinity : settled.collectAbove, { min: 0, max: Infinity });
  return stillSamples(settled, STILL_MIB, () => liveReader(read, collectAbove));
}

/**
 * V8 heap in use, in MiB, every `every` ms (`v8.getHeapStatistics().used_heap_size`).
 *
 * Its ceiling is {@link heapLimitMiB} (`--max-old-space-size`). A reading above `collectAbove`
 * that has not moved since the one before (nothing allocates, so nothing collects) is taken
 * after a full garbage collection, so that a listener paused for heap sees the heap fall once
 * what held it is gone: give it the mark to resume at. With `idleEvery` above `every`, the
 * period doubles up to `idleEvery` while readings stay within 1 MiB of the one before.
 *
 * @example
 * const heap = heapUsedMiB({ every: 250, collectAbove: 1200 }); // collect when still above the resume mark
 * pauseUnderPressure([{ name: 'heapUsed', samples: heap, above: 1500, below: 1200, unit: 'MiB' }]);
 *
 * @param options `every` as a number, or an object:
 *   `every`, the period, ms (default 1000);
 *   `idleEvery`, the longest period while the heap holds still, ms (default `every`: no stretching);
 *   `scheduler`, where periods are timed (default `asyncScheduler`);
 *   `collectAbove`, MiB (default `Infinity`: never collect).
 * @returns Cold: it runs only while subscribed.
 * @throws {TypeError | RangeError} At call time, on an option out of range, naming it and its value.
 */
export function heapUsedMiB(options?: number | MemoryOptions): Observable<number> {
  return memoryMiB('heapUsedMiB', options, () => getHeapStatistics().used_heap_size / MiB);
}

/**
 * V8's heap limit in MiB: where a growing heap ends in a crash.
 *
 * @example
 * const above = heapLimitMiB() * 0.8; // pause at 80% of the limit
 *
 * @returns `v8.getHeapStatistics().heap_size_limit`, in MiB.
 */
export function heapLimitMiB(): number {
  return getHeapStatistics().heap_size_limit / MiB;
}

/**
 * Resident memory of the process, in MiB, every `every` ms (`process.memoryUsage.rss()`).
 *
 * It does not walk the heap, and it is what the OOM killer weighs, buffers and native memory
 * included. A still reading above `collectAbove` is taken after a full garbage collection, as
 * {@link heapUsedMiB}'s (buffers are freed when their objects are collected). With `idleEvery`
 * above `every`, the period doubles up to `idleEvery` while readings stay within 1 MiB of the
 * one before.
 *
 * @example
 * pauseUnderPressure([{ name: 'rss', samples: rssMiB({ every: 1000, collectAbove: 1600 }), above: 2000, unit: 'MiB' }]);
 *
 * @param options `every` as a number, or an object:
 *   `every`, the period, ms (default 1000);
 *   `idleEvery`, the longest period while memory holds still, ms (default `every`: no stretching);
 *   `scheduler`, where periods are timed (default `asyncScheduler`);
 *   `collectAbove`, MiB (default `Infinity`: never collect).
 * @returns Cold: it runs only while subscribed.
 * @throws {TypeError | RangeError} At call time, on an option out of range, naming it and its value.
 */
export function rssMiB(options?: number | MemoryOptions): Observable<number> {
  return memoryMiB('rssMiB', options, () => process.memoryUsage.rss() / MiB);
}

/**
 * The container's memory in use over its limit, a share, 0 to 1, every `every` ms.
 *
 * It is cgroup v2's `memory.current` / `memory.max`: what the OOM killer of a container acts on
 * (Envoy added this monitor because heap size did not match it). Completes at once where there
 * is no cgroup v2 limit (not Linux, cgroup v1, or `memory.max` is `max`); `memory.max` is read
 * when it is called. With `idleEvery` above `every`, the period doubles up to `idleEvery` while
 * `memory.current` stays within 1 MiB of the reading before.
 *
 * @example
 * pauseUnderPressure([{ name: 'cgroupMemory', samples: cgroupMemory(1000), above: 0.9 }]);
 * cgroupMemory({ every: 500, root: '/sys/fs/cgroup' });
 *
 * @param options `every` as a number, or an object:
 *   `every`, the period, ms (default 1000);
 *   `idleEvery`, the longest period while memory holds still, ms (default `every`: no stretching);
 *   `scheduler`, where periods are timed (default `asyncScheduler`);
 *   `root`, where cgroup v2 is mounted for this process (default `/sys/fs/cgroup`).
 * @returns Cold: it runs only while subscribed.
 * @throws {TypeError | RangeError} At call time, on an option out of range, naming it and its value.
 */
export function cgroupMemory(options?: number | CgroupMemoryOptions): Observable<number> {
  const settled = settleOptions('cgroupMemory', options, DEFAULTS);
  const root = checkString(settled.name('root'), settled.root === undefined ? '/sys/fs/cgroup' : settled.root);
  const read = (file: string): string | undefined => {
    try {
      return readFileSync(`${root}/${file}`, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const max = Number(read('memory.max'));
  if (!Number.isFinite(max) || max <= 0) return EMPTY;
  return stillSamples(settled, (STILL_MIB * MiB) / max, () => () => Number(read('memory.current') ?? 0) / max);
}
