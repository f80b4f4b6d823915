import { readFileSync } from 'node:fs';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { EMPTY, type Observable, type SchedulerLike } from 'rxjs';
import { sampleEvery } from './sample';

const MiB = 1024 * 1024;

/** A reading within this of the one before means nothing is allocating (MiB). */
const STILL_MIB = 1;

let collector: (() => void) | undefined;

/**
 * V8's full garbage collection: `gc` when the process runs with --expose-gc, else obtained the
 * usual way in a running process, which Node does not document (the flag set, `gc` read from a
 * new context, the flag cleared, so user code sees no global `gc` appear; checked on Node 20,
 * 22, 24 and 26 by spec/monitors.spec.ts in CI).
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
 * A memory reader that tells live memory from garbage when it matters. Memory in use counts
 * dead objects until the next collection, and V8 collects when something allocates: a process
 * paused for memory allocates nothing, so its reading would never fall and the pause would
 * never end (measured: a listener paused at 79 MiB stayed paused with nothing live). So a
 * reading above `collectAbove` that has not moved since the last one is taken again after a
 * full collection (a few ms for tens of MiB; under load the heap moves, V8 collects by itself,
 * and this never runs).
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

function checkCollectAbove(name: string, collectAbove: number): number {
  if (typeof collectAbove !== 'number' || Number.isNaN(collectAbove) || collectAbove < 0) {
    throw new RangeError(`${name}: collectAbove must be a number of MiB >= 0, got ${String(collectAbove)}`);
  }
  return collectAbove;
}

/**
 * V8 heap in use, in MiB, every `every` ms (`v8.getHeapStatistics().used_heap_size`). Its
 * ceiling is `heapLimitMiB()` (`--max-old-space-size`). A reading above `collectAbove` that has
 * not moved since the one before (nothing allocates, so nothing collects) is taken after a full
 * garbage collection, so that a listener paused for heap sees the heap fall once what held it
 * is gone: give it the mark to resume at.
 *
 * @param every Default 1000.
 * @param scheduler Default `asyncScheduler`.
 * @param collectAbove MiB. Default `Infinity` (never collect).
 */
export function heapUsed(every = 1000, scheduler?: SchedulerLike, collectAbove = Infinity): Observable<number> {
  checkCollectAbove('heapUsed', collectAbove);
  return sampleEvery('heapUsed', every, scheduler, () => liveReader(() => getHeapStatistics().used_heap_size / MiB, collectAbove));
}

/** V8's heap limit in MiB: where a growing heap ends in a crash. */
export function heapLimitMiB(): number {
  return getHeapStatistics().heap_size_limit / MiB;
}

/**
 * Resident memory of the process, in MiB, every `every` ms (`process.memoryUsage.rss()`, which
 * does not walk the heap): what the OOM killer weighs, buffers and native memory included. A
 * still reading above `collectAbove` is taken after a full garbage collection, as
 * {@link heapUsed}'s (buffers are freed when their objects are collected).
 *
 * @param every Default 1000.
 * @param scheduler Default `asyncScheduler`.
 * @param collectAbove MiB. Default `Infinity` (never collect).
 */
export function rss(every = 1000, scheduler?: SchedulerLike, collectAbove = Infinity): Observable<number> {
  checkCollectAbove('rss', collectAbove);
  return sampleEvery('rss', every, scheduler, () => liveReader(() => process.memoryUsage.rss() / MiB, collectAbove));
}

/**
 * The container's memory in use as a share of its limit, 0 to 1 (cgroup v2 `memory.current` /
 * `memory.max`), every `every` ms: what the OOM killer of a container acts on (Envoy added this
 * monitor because heap size did not match it). Completes at once where there is no cgroup v2
 * limit (not Linux, cgroup v1, or `memory.max` is `max`).
 *
 * @param every Default 1000.
 * @param scheduler Default `asyncScheduler`.
 * @param root Where cgroup v2 is mounted for this process. Default `/sys/fs/cgroup`.
 */
export function cgroupMemory(every = 1000, scheduler?: SchedulerLike, root = '/sys/fs/cgroup'): Observable<number> {
  const read = (file: string): string | undefined => {
    try {
      return readFileSync(`${root}/${file}`, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  const max = Number(read('memory.max'));
  if (!Number.isFinite(max) || max <= 0) return EMPTY;
  return sampleEvery('cgroupMemory', every, scheduler, () => () => Number(read('memory.current') ?? 0) / max);
}
