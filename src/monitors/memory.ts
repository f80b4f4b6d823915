import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { EMPTY, type Observable, type SchedulerLike } from 'rxjs';
import { sampleEvery } from './sample';

const MiB = 1024 * 1024;

/**
 * V8 heap in use, in MiB, every `every` ms (`v8.getHeapStatistics().used_heap_size`). Its
 * ceiling is `heapLimitMiB()` (`--max-old-space-size`).
 *
 * @param every Default 1000.
 * @param scheduler Default `asyncScheduler`.
 */
export function heapUsed(every = 1000, scheduler?: SchedulerLike): Observable<number> {
  return sampleEvery('heapUsed', every, scheduler, () => () => getHeapStatistics().used_heap_size / MiB);
}

/** V8's heap limit in MiB: where a growing heap ends in a crash. */
export function heapLimitMiB(): number {
  return getHeapStatistics().heap_size_limit / MiB;
}

/**
 * Resident memory of the process, in MiB, every `every` ms (`process.memoryUsage.rss()`, which
 * does not walk the heap): what the OOM killer weighs, buffers and native memory included.
 *
 * @param every Default 1000.
 * @param scheduler Default `asyncScheduler`.
 */
export function rss(every = 1000, scheduler?: SchedulerLike): Observable<number> {
  return sampleEvery('rss', every, scheduler, () => () => process.memoryUsage.rss() / MiB);
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
