import { asyncScheduler, defer, finalize, ignoreElements, merge, Subject, tap, throttleTime, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { classifyFailure } from '../errors/classify';
import { errorHint } from '../errors/hint';
import type { AcceptError, AcceptFailed, AcceptResult } from '../errors/result';
import { checkDelay, checkFunction, checkKnownOptions, checkScheduler, optionNames } from '../util/validate';

/** One log entry about a resource shortage, with structured fields for any logger. */
export interface AcceptWarning {
  /** A ready-made line: `accept error: EMFILE: too many open files, accept (3 more suppressed). <hint>` */
  readonly message: string;
  /** The error itself. */
  readonly error: AcceptError;
  /** Its code: `'EMFILE'`, ... */
  readonly code: string | undefined;
  /** The call that failed: `'accept'`, `'listen'`. */
  readonly syscall: string | undefined;
  /** Whether it came from accepting or from listening again after a pause. */
  readonly during: 'accept' | 'resume';
  /** What to do about it (see {@link errors!errorHint}). */
  readonly hint: string | undefined;
  /** Shortages since the previous entry that were not logged, to keep a flood out of the log. */
  readonly suppressed: number;
}

/** How often {@link logWarnings} may log. */
export interface LogWarningsOptions {
  /** At most one entry per window, in ms. Default 500 (the default pause of `handleErrors`). */
  window?: number;
  /** Where the window is timed. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

const OPTIONS = optionNames<LogWarningsOptions>({ window: true, scheduler: true });

/**
 * Logs resource shortages (EMFILE, ENFILE, ..., and failures to listen again) with a hint, and
 * passes every result through unchanged: the first shortage at once, then at most one entry per
 * window, the last one in it, counting the shortages it stands for.
 *
 * ```
 * results:  -r-r-r---------r-|     r EMFILE
 * log:      -a---b---------c-|     a suppressed 0, b (the 3rd r) suppressed 1, c suppressed 0
 * ```
 *
 * @example
 * listen({ port: 8080 }).pipe(logWarnings((w) => console.error(w.message)), handleErrors());
 * // Output (stderr): accept error: EMFILE: too many open files, accept. The process ran out of ...
 *
 * @param log Called for each entry; an exception it throws errors the stream.
 * @throws {TypeError | RangeError} At call time, on a `log` that is not a function or a bad option, naming it.
 */
export function logWarnings(
  log: (warning: AcceptWarning) => void,
  options: LogWarningsOptions = {},
): MonoTypeOperatorFunction<AcceptResult> {
  checkFunction('logWarnings: log', log);
  const { window = 500, scheduler = asyncScheduler } = checkKnownOptions('logWarnings: options', options, OPTIONS);
  checkDelay('logWarnings: options.window', window);
  checkScheduler('logWarnings: options.scheduler', scheduler);

  return (source) =>
    defer(() => {
      let seen = 0;
      let reported = 0;
      const entry = ({ error, during }: AcceptFailed): AcceptWarning => {
        const suppressed = seen - reported - 1;
        reported = seen;
        const hint = errorHint(error, during);
        const more = suppressed > 0 ? ` (${suppressed} more suppressed)` : '';
        const message = `accept error: ${error.message}${more}${hint === undefined ? '' : `. ${hint}`}`;
        return { message, error, code: error.code, syscall: error.syscall, during, hint, suppressed };
      };

      // Only shortages take the throttled side path, logged before the loop downstream reacts to them.
      const shortages = new Subject<AcceptFailed>();
      const logged = shortages.pipe(
        throttleTime(window, scheduler, { leading: true, trailing: true }),
        tap((failure) => log(entry(failure))),
        ignoreElements(),
      );
      const results = source.pipe(
        tap((result) => {
          if (result.type === 'error' && classifyFailure(result) === 'resource') {
            seen++;
            shortages.next(result);
          }
        }),
        finalize(() => shortages.complete()),
      );
      return merge(logged, results);
    });
}
