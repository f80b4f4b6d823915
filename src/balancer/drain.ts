import { asyncScheduler, defer, filter, interval, map, race, take, timer, type Observable, type SchedulerLike } from 'rxjs';
import { checkDelay, checkInstance, checkInteger, checkKnownOptions, checkScheduler, optionNames } from '../util/validate';
import { LoopStatus } from './loopStatus';

/** Options of {@link drain}. */
export interface DrainOptions {
  /**
   * The longest drain, ms: stop accepting then even if traffic still arrives (Kubernetes: how
   * long the endpoint may take to leave every load balancer, a few seconds). 0: at once.
   */
  maxMs: number;
  /** Traffic has stopped when no connection arrived and no exchange completed for this long, ms. Default 1000. */
  quietMs?: number;
  /** Where the drain is timed. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

const OPTIONS = optionNames<DrainOptions>({ maxMs: true, quietMs: true, scheduler: true });

/**
 * The first half of a shutdown behind a load balancer: from subscription the loop drains
 * ({@link LoopStatus.drain}: readiness fails, the agent says `drain`) while it goes on
 * accepting and serving as before, and this emits once traffic has stopped arriving (no new
 * connection and no completed exchange for `quietMs`: the balancers have taken the process
 * out), or after `maxMs`, then completes. Then abort `serve`'s signal: the listener closes,
 * every connection ends after its next exchange (`Connection: close`), and, as this sets
 * ({@link index!Limiter.closeIdleAfter}), an idle one is closed only once it has stayed unused for
 * `quietMs` more.
 *
 * Why no request is lost: a request is lost when it meets a close a proxy has not seen coming
 * (a proxy does not retry a POST it has sent). A refused connect is retried by every proxy:
 * nothing was sent. A response that says `Connection: close` is seen coming. That leaves the
 * connections already in the listening socket's queue when it closes (the kernel resets them:
 * keep-alive, kept during the drain, keeps that queue short) and idle keep-alive connections:
 * the loop never closes one a balancer may still choose; under traffic a balancer reuses its
 * idle connections, and each then ends after its response, so one left unused for `quietMs`
 * after the listener closed is one it no longer chooses. A balancer that stops sending (an
 * agent saying drain, readiness failing, an endpoint removed) ends the drain early and loses
 * nothing; one that never stops (nginx with static upstreams) ends it at `maxMs`.
 *
 * @example
 * process.on('SIGTERM', () => drain(status, { maxMs: 5000 }).subscribe(() => shutdown.abort()));
 *
 * @param status The loop's status: it drains from subscription.
 * @param options How long at most, and what counts as quiet.
 * @returns Emits once, when it is time to stop accepting.
 * @throws {TypeError | RangeError} At call time, on a `status` that is not a {@link LoopStatus},
 *   options that are not an object, an unknown option, or an option missing, of the wrong type
 *   or out of range, naming it and its value.
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
    // What arriving traffic moves: connections accepted, exchanges completed.
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
