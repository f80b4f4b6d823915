import { distinctUntilChanged, map, scan, type Observable } from 'rxjs';
import type { Limiter } from '../limit/limiter';
import { checkInteger, checkNumber, checkOptions } from '../util/validate';

/** Options of {@link targetLimit}. */
export interface TargetLimitOptions {
  /** The longest, in ms, an admitted exchange should take, waiting behind the others included: a finite number > 0. */
  target: number;
  /** The lowest limit, an integer >= 1. Default 1. */
  min?: number;
  /** The highest limit, an integer >= `min`. Default: the limiter's limit at the start. */
  max?: number;
  /** The largest wait queue, an integer >= 0. Default: the limiter's queue size at the start. */
  maxQueue?: number;
  /** The weight of a new reading against the ones before (an exponential average), above 0, at most 1. Default 0.5. */
  weight?: number;
}

/**
 * Learns the connection limit and the wait queue from what an exchange costs.
 *
 * With `serviceTimeMs` ms of the event loop per exchange, the process finishes
 * `target / serviceTimeMs` exchanges within `target` ms (Little's law). Half of those are
 * admitted at once and half may wait in the queue, so that the last one to wait has about
 * `target` ms of work before it; the rest are refused at once, which costs them nothing,
 * instead of waiting in a queue they would leave, or time out in, anyway. Unlike a limit
 * learned from latency (AIMD, {@link adaptiveLimit}), it needs no signal that rises with the
 * load: Node's event-loop delay stays flat while clients wait in the kernel (see
 * {@link eventLoopBusyMs}). When the load is gone, exchanges cost almost nothing and limit and
 * queue return to `max` and `maxQueue`. Emits each limit it sets; it runs while subscribed (the
 * last limit stays when it stops).
 *
 * @example
 * const limiter = new Limiter(1000);
 * targetLimit(limiter, serviceTimeMs(limiter), { target: 100 }).subscribe((limit) => log.info({ limit }));
 *
 * @param limiter The limiter whose limit and queue size to set.
 * @param serviceTimes What one exchange costs the loop, ms: {@link serviceTimeMs}. A reading that
 *   is not a number >= 0 errors the result, naming it.
 * @param options The target and the bounds.
 * @returns The limits set.
 * @throws {TypeError | RangeError} At call time, on an option out of range, naming it and its value.
 */
export function targetLimit(limiter: Limiter, serviceTimes: Observable<number>, options: TargetLimitOptions): Observable<number> {
  const { target, min = 1, max = limiter.limit, maxQueue = limiter.queueSize, weight = 0.5 } = checkOptions('targetLimit: options', options);
  checkNumber('targetLimit: options.target', target, { above: 0 });
  checkInteger('targetLimit: options.min', min, 1);
  checkInteger('targetLimit: options.max', max, min);
  checkInteger('targetLimit: options.maxQueue', maxQueue, 0);
  checkNumber('targetLimit: options.weight', weight, { above: 0, max: 1 });
  return serviceTimes.pipe(
    scan((average: number, cost) => {
      if (typeof cost !== 'number' || !(cost >= 0)) throw new RangeError(`targetLimit: a service time must be a number >= 0, got ${String(cost)}`);
      return Number.isNaN(average) ? cost : average + weight * (cost - average);
    }, NaN),
    map((cost) => Math.floor(target / cost)), // Infinity when an exchange costs nothing
    distinctUntilChanged(),
    map((fits) => {
      // Half of what fits is served at once, half waits (first in, first out): the last to wait
      // has about `target` ms of work before it, the admitted and the waiting ahead of it.
      const limit = Math.min(max, Math.max(min, Math.ceil(fits / 2)));
      limiter.setQueueSize(Math.min(maxQueue, Math.max(0, fits - limit)));
      if (limit !== limiter.limit) limiter.setLimit(limit);
      return limit;
    }),
  );
}
