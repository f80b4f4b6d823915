import { asyncScheduler, EMPTY, map, type Observable, type SchedulerLike } from 'rxjs';
import { openFilesEvery, readOpenFileLimit } from '../../source/fileLimit';
import { checkInteger } from '../../util/validate';

/**
 * The share of the process's open-file limit in use, 0 to 1, every `every` ms or more (the
 * period stretches with what a count costs, so that counting `/proc/self/fd` (a few µs, or
 * about 1 µs a descriptor before Linux 6.2) takes at most 0.1% of a core). The same count
 * {@link listen} keeps to pause before Node drops connections silently at the limit, as a
 * signal for {@link pauseUnderPressure}: to stop accepting earlier, while descriptors are
 * still left for the handlers' own files and outgoing connections. Completes at once where the limit cannot be read (not Linux).
 *
 * @param every The shortest period, ms. Default 1000.
 * @param scheduler Where periods are timed. Default `asyncScheduler`.
 * @param limit The open-file limit. Default: the process's soft limit (`/proc/self/limits`).
 * @returns Cold: it counts only while subscribed.
 */
export function openFiles(every = 1000, scheduler: SchedulerLike = asyncScheduler, limit = readOpenFileLimit()): Observable<number> {
  checkInteger('openFiles: every', every, 1);
  if (limit === undefined) return EMPTY;
  checkInteger('openFiles: limit', limit, 1);
  return openFilesEvery(every, 0.001, scheduler).pipe(map((open) => open / limit));
}
