import { distinctUntilChanged, map, scan, type Observable } from 'rxjs';
import type { Limiter } from '../limit/limiter';
import { checkInteger } from '../util/validate';

/** Options of {@link targetLimit}. */
export interface TargetLimitOptions {
  /** The longest, in ms, an admitted exchange should take, waiting behind the others included. */
  target: number;
  /** The lowest limit. Default 1. */
  min?: number;
  /** The highest limit. Default: the limiter's limit at the start. */
  max?: number;
  /** The largest wait queue. Default: the limiter's queue size at the start. */
  maxQueue?: number;
  /** The weight of a new reading against the ones before (an exponential average), above 0, at most 1. Default 0.5. */
  weight?: number;
}

/**
 * Learns the connection limit from what an exchange costs: with `serviceTime` ms of the event
 * loop per exchange, the process finishes `target / serviceTime` exchanges within `target` ms
 * (Little's law). Half of those are admitted at once and half may wait in the queue, so that
 * the last one to wait has about `target` ms of work before it; the rest are refused at once,
 * which costs them nothing, instead of waiting in a queue they would leave, or time out in,
 * anyway. Unlike a limit learned from latency (AIMD, {@link adaptiveLimit}), it needs no signal
 * that rises with the load: Node's event-loop delay stays flat while clients wait in the kernel
 * (see {@link eventLoopBusy}). When the load is gone, exchanges cost almost nothing and limit
 * and queue return to `max` and `maxQueue`. Emits each limit it sets; it runs while subscribed
 * (the last limit stays when it stops).
 *
 * @example
 * const limiter = new Limiter(1000);
 * targetLimit(limiter, serviceTime(limiter), { target: 100 }).subscribe((limit) => log.info({ limit }));
 *
 * @param limiter The limiter whose limit and queue size to set.
 * @param serviceTimes What one exchange costs the loop, ms: {@link serviceTime}.
 * @param options The target and the bounds.
 * @returns The limits set.
 */
export function targetLimit(limiter: Limiter, serviceTimes: Observable<number>, options: TargetLimitOptions): Observable<number> {
  if (options === null || typeof options !== 'object') throw new TypeError(`targetLimit: options must be an object, got ${String(options)}`);
  const { target, min = 1, max = limiter.limit, maxQueue = limiter.queueSize, weight = 0.5 } = options;
  if (typeof target !== 'number' || !(target > 0) || target === Infinity) throw new RangeError(`targetLimit: options.target must be a number > 0, got ${String(target)}`);
  checkInteger('targetLimit: options.min', min, 1);
  checkInteger('targetLimit: options.max', max, min);
  checkInteger('targetLimit: options.maxQueue', maxQueue, 0);
  if (typeof weight !== 'number' || !(weight > 0 && weight <= 1)) throw new RangeError(`targetLimit: options.weight must be a number above 0 and at most 1, got ${String(weight)}`);
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
