import { readFileSync } from 'node:fs';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { EMPTY, type Observable } from 'rxjs';
import { checkNumber, checkString } from '../../util/validate';
import { settleOptions, type MonitorOptions } from './options';
import { sampleEvery } from './sample';

const MiB = 1024 * 1024;

/** A reading within this of the one before means nothing is allocating (MiB). */
const STILL_MIB = 1;

let collector: (() => void) | undefined;

/**
 * V8's full garbage collection: `gc`, else read from a new context with --expose-gc set for that
 * moment, so that no global `gc` appears (undocumented; checked on Node 20 to 26 by the specs in CI).
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

/** Options of {@link heapUsedMiB} and {@link rssMiB}. */
export interface MemoryOptions extends MonitorOptions {
  /** MiB: a still reading above this is taken again after a full garbage collection (give it the mark to resume at). Default `Infinity`. */
  collectAbove?: number;
}

/** Options of {@link cgroupMemory}. */
export interface CgroupMemoryOptions extends MonitorOptions {
  /** Where cgroup v2 is mounted for this process: the directory of its `memory.max` and `memory.current`. Default `/sys/fs/cgroup`. */
  root?: string;
}

/**
 * What {@link heapUsedMiB} and {@link rssMiB} share. Dead objects count until V8 collects, when
 * something allocates: a process paused for memory allocates nothing, so the pause would never end
 * (measured: paused at 79 MiB with nothing live). A collection costs a few ms for tens of MiB.
 */
function memoryMiB(caller: string, options: number | MemoryOptions | undefined, read: () => number): Observable<number> {
  const settled = settleOptions(caller, options, { every: 1000 });
  const { collectAbove = Infinity } = settled;
  checkNumber(settled.name('collectAbove'), collectAbove, { min: 0, max: Infinity });
  return sampleEvery({ ...settled, calm: (value, before) => Math.abs(value - before) < STILL_MIB }, () => {
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
  });
}

/**
 * V8 heap in use, in MiB (`used_heap_size`), every `every` ms; its ceiling is {@link heapLimitMiB}.
 *
 * @example
 * pauseUnderPressure([{ name: 'heapUsed', samples: heapUsedMiB({ every: 250, collectAbove: 1200 }), above: 1500, below: 1200, unit: 'MiB' }]);
 *
 * @param options `every` as a number, or an object: `every` defaults to 1000 ms, `idleEvery` (while within 1 MiB of the reading before) to `every`.
 */
export function heapUsedMiB(options?: number | MemoryOptions): Observable<number> {
  return memoryMiB('heapUsedMiB', options, () => getHeapStatistics().used_heap_size / MiB);
}

/**
 * V8's heap limit in MiB (`heap_size_limit`, set by `--max-old-space-size`): where a growing heap ends in a crash.
 *
 * @example
 * const above = heapLimitMiB() * 0.8; // pause at 80% of the limit
 */
export function heapLimitMiB(): number {
  return getHeapStatistics().heap_size_limit / MiB;
}

/**
 * Resident memory of the process, in MiB (`process.memoryUsage.rss()`), every `every` ms: what the
 * OOM killer weighs, buffers and native memory included.
 *
 * @example
 * pauseUnderPressure([{ name: 'rss', samples: rssMiB({ every: 1000, collectAbove: 1600 }), above: 2000, unit: 'MiB' }]);
 *
 * @param options `every` as a number, or an object: `every` defaults to 1000 ms, `idleEvery` (while within 1 MiB of the reading before) to `every`.
 */
export function rssMiB(options?: number | MemoryOptions): Observable<number> {
  return memoryMiB('rssMiB', options, () => process.memoryUsage.rss() / MiB);
}

/**
 * The container's memory in use over its limit, a share, 0 to 1, every `every` ms: cgroup v2's
 * `memory.current` / `memory.max`, what its OOM killer acts on. Completes at once where there is
 * no cgroup v2 limit (read at call time).
 *
 * @example
 * pauseUnderPressure([{ name: 'cgroupMemory', samples: cgroupMemory(1000), above: 0.9 }]);
 *
 * @param options `every` as a number, or an object: `every` defaults to 1000 ms, `idleEvery` (while within 1 MiB of the reading before) to `every`.
 */
export function cgroupMemory(options?: number | CgroupMemoryOptions): Observable<number> {
  const settled = settleOptions('cgroupMemory', options, { every: 1000 });
  const { root = '/sys/fs/cgroup' } = settled;
  checkString(settled.name('root'), root);
  const read = (file: string): string | undefined => {
    try {
      return readFileSync(`${root}/${file}`, 'utf8'); // Number() ignores the newline
    } catch {
      return undefined;
    }
  };
  const max = Number(read('memory.max'));
  if (!Number.isFinite(max) || max <= 0) return EMPTY;
  const within = (STILL_MIB * MiB) / max;
  return sampleEvery({ ...settled, calm: (value, before) => Math.abs(value - before) < within }, () => () => Number(read('memory.current') ?? 0) / max);
}
