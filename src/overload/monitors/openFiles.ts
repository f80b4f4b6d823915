import { EMPTY, map, type Observable } from 'rxjs';
import { openFilesEvery, readOpenFileLimit } from '../../source/fileLimit';
import { checkInteger } from '../../util/validate';
import { settleOptions, type MonitorOptions } from './options';

/** Options of {@link openFiles}. */
export interface OpenFilesOptions extends MonitorOptions {
  /** The open-file limit: an integer >= 1. Default: the process's soft limit (`/proc/self/limits`). */
  limit?: number;
}

/**
 * The process's open files over its open-file limit, a share, 0 to 1: to stop accepting while
 * descriptors are left for the handlers. The period, `every` ms or more, stretches so that
 * counting `/proc/self/fd` takes at most 0.1% of a core. Completes at once where the limit cannot
 * be read (not Linux).
 *
 * @example
 * pauseUnderPressure([{ name: 'openFiles', samples: openFiles(1000), above: 0.8 }]);
 *
 * @param options `every` as a number, or an object: `every` defaults to 1000 ms, `idleEvery` (while the count holds still) to `every`.
 */
export function openFiles(options?: number | OpenFilesOptions): Observable<number> {
  const settled = settleOptions('openFiles', options, { every: 1000 });
  const { every, idleEvery, scheduler, limit = readOpenFileLimit() } = settled;
  if (limit === undefined) return EMPTY;
  checkInteger(settled.name('limit'), limit, 1);
  return openFilesEvery(every, 0.001, scheduler, idleEvery).pipe(map((open) => open / limit));
}
