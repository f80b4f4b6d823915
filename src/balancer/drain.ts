import { asyncScheduler, defer, filter, interval, map, race, take, timer, type Observable, type SchedulerLike } from 'rxjs';
import { checkDelay, checkInteger } from '../util/validate';
import type { LoopStatus } from './loopStatus';

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

/**
 * The first half of a shutdown behind a load balancer: from subscription the loop drains
 * ({@link LoopStatus.drain}: readiness fails, the agent says `drain`, every response says
 * `Connection: close`) while it goes on accepting and serving, and this emits once traffic has
 * stopped arriving (no new connection and no completed exchange for `quietMs`: the balancers
 * have taken the process out), or after `maxMs`, then completes. Then abort `serve`'s signal:
 * the listener closes, idle connections close, busy ones after their response.
 *
 * Why no request is lost: a request is lost when it meets a close (a proxy does not retry a
 * POST it has sent), and the only connections the loop closes on its own are idle ones. While
 * it drains, it closes none: every connection closes after its next exchange (the balancer
 * reads `Connection: close` and drops it), so a connection a balancer sends on is answered.
 * Idle ones are closed only after the drain, once the balancers have sent nothing for
 * `quietMs`: they are no longer sending to this process. (A balancer that never stops, such as
 * nginx with static upstreams, ends the drain at `maxMs`; by then every connection that
 * carried a request has closed after it, and only those it left unused for `maxMs` are idle.)
 *
 * @example
 * process.on('SIGTERM', () => drain(status, { maxMs: 5000 }).subscribe(() => shutdown.abort()));
 *
 * @param status The loop's status: it drains from subscription.
 * @param options How long at most, and what counts as quiet.
 * @returns Emits once, when it is time to stop accepting.
 */
export function drain(status: LoopStatus, options: DrainOptions): Observable<void> {
  const { maxMs, quietMs = 1000, scheduler = asyncScheduler } = options;
  checkDelay('drain: options.maxMs', maxMs);
  checkInteger('drain: options.quietMs', quietMs, 1);
  const every = Math.max(1, Math.min(100, Math.floor(quietMs / 4)));
  return defer(() => {
    status.drain();
    if (maxMs === 0) return timer(0, scheduler).pipe(map(() => undefined));
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
      map(() => undefined),
    );
  });
}
