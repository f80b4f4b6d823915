import { asyncScheduler, defer, filter, interval, map, race, take, timer, type Observable, type SchedulerLike } from 'rxjs';
import { checkDelay, checkInstance, checkInteger, checkKnownOptions, checkScheduler, optionNames } from '../util/validate';
import { LoopStatus } from './loopStatus';

/** Options of {@link drain}. */
export interface DrainOptions {
  /** The longest drain, ms, even if traffic still arrives (Kubernetes: a few seconds, for the endpoint to leave every balancer). 0: none. */
  maxMs: number;
  /** Traffic has stopped when no connection arrived and no exchange completed for this long, ms. Default 1000. */
  quietMs?: number;
  /** Where the drain is timed. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

const OPTIONS = optionNames<DrainOptions>({ maxMs: true, quietMs: true, scheduler: true });

/**
 * The first half of a shutdown behind a load balancer: from subscription the loop drains
 * ({@link LoopStatus.drain}) while it serves on, and this emits once traffic has stopped for
 * `quietMs` (the balancers took the process out), or after `maxMs`; then abort `serve`'s signal.
 * Idle connections are then closed only once unused for `quietMs` more
 * ({@link index!Limiter.closeIdleAfter}): docs/deployment.md, "The shutdown that loses nothing".
 *
 * @example
 * process.on('SIGTERM', () => drain(status, { maxMs: 5000 }).subscribe(() => shutdown.abort()));
 *
 * @returns Emits once, when it is time to stop accepting.
 * @throws {TypeError | RangeError} At call time, on a `status` that is not a {@link LoopStatus} or a bad option, naming it.
 */
export function drain(status: LoopStatus, options: DrainOptions): Observable<void> {
  checkInstance('drain: status', status, LoopStatus);
  const { maxMs, quietMs = 1000, scheduler = asyncScheduler } = checkKnownOptions('drain: options', options, OPTIONS);
  checkDelay('drain: options.maxMs', maxMs);
  checkInteger('drain: options.quietMs', quietMs, 1);
  checkScheduler('drain: options.scheduler', scheduler);
  const every = Math.max(1, Math.min(100, Math.floor(quietMs / 4)));
  return defer(() => {
    status.drain();
    if (maxMs === 0) return timer(0, scheduler).pipe(map(() => undefined)); // as without a drain
    const activity = (): number => status.metrics.snapshot().accepted + (status.limiter?.counts.completed ?? 0);
    let seen = activity();
    let since = scheduler.now();
    const quiet = interval(every, scheduler).pipe(
      filter(() => {
        const now = activity();
        if (now !== seen) {
          seen = now;
          since = scheduler.now();
        }
        return scheduler.now() - since >= quietMs;
      }),
    );
    return race(quiet, timer(maxMs, scheduler)).pipe(
      take(1),
      map(() => status.limiter?.closeIdleAfter(quietMs)),
    );
  });
}
