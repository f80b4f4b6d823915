import { EMPTY, map, type Observable } from 'rxjs';
import { openFilesEvery, readOpenFileLimit } from '../../source/fileLimit';
import { checkInteger } from '../../util/validate';
import { settleOptions, type MonitorOptions } from './options';

/** Options of {@link openFiles}. */
export interface OpenFilesOptions extends MonitorOptions {
  /** The open-file limit: an integer >= 1. Default: the process's soft limit (`/proc/self/limits`). */
  limit?: number;
}

const DEFAULTS = { every: 1000 }; // and no stretching unless idleEvery says so

/**
 * The process's open files over its open-file limit, a share, 0 to 1, every `every` ms or more.
 *
 * The period stretches with what a count costs, so that counting `/proc/self/fd` (a few µs,
 * or about 1 µs a descriptor before Linux 6.2) takes at most 0.1% of a core; with `idleEvery`
 * above `every`, it also doubles up to `idleEvery` while the count holds still. The same count
 * {@link index!listen} keeps to pause before Node drops connections silently at the limit, as a
 * signal for {@link pauseUnderPressure}: to stop accepting earlier, while descriptors are still
 * left for the handlers' own files and outgoing connections. Completes at once where the limit
 * cannot be read (not Linux).
 *
 * @example
 * pauseUnderPressure([{ name: 'openFiles', samples: openFiles(1000), above: 0.8 }]);
 * openFiles({ every: 500, idleEvery: 5000, limit: 4096 });
 *
 * @param options `every` as a number, or an object:
 *   `every`, the shortest period, ms (default 1000);
 *   `idleEvery`, the longest period while the count holds still, ms (default `every`: no stretching);
 *   `scheduler`, where periods are timed (default `asyncScheduler`);
 *   `limit`, the open-file limit (default: the process's soft limit, `/proc/self/limits`).
 * @returns Cold: it counts only while subscribed.
 * @throws {TypeError | RangeError} At call time, on an option out of range, naming it and its value.
 */
export function openFiles(options?: number | OpenFilesOptions): Observable<number> {
  const settled = settleOptions('openFiles', options, DEFAULTS);
  const { every, idleEvery, scheduler, limit = readOpenFileLimit() } = settled;
  if (limit === undefined) return EMPTY;
  checkInteger(settled.name('limit'), limit, 1);
  return openFilesEvery(every, 0.001, scheduler, idleEvery).pipe(map((open) => open / limit));
}
