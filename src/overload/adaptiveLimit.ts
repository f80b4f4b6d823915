import { distinctUntilChanged, map, tap, type Observable } from 'rxjs';
import type { Limiter } from '../limit/limiter';
import { checkInteger, checkNumber, checkOptions } from '../util/validate';

/** Options of {@link adaptiveLimit}. */
export interface AdaptiveLimitOptions {
  /** The reading to stay under, a number > 0 (for {@link eventLoopDelayMs}: the delay, in ms, a client may wait). */
  target: number;
  /** The lowest limit, an integer >= 1. Default 1. */
  min?: number;
  /** The highest limit, an integer >= `min`. Default: the limiter's limit at the start. */
  max?: number;
  /** Multiplies the limit on a reading above `target`, above 0 and below 1. Default 0.9. */
  decrease?: number;
}

/**
 * Learns the connection limit from a signal that rises with the connections held, by additive
 * increase, multiplicative decrease (as Netflix's `AIMDLimit`): a reading above `target` sets it to
 * `decrease` times the live connections (or the limit, if lower); one at or below, while the limit
 * is reached, raises it by one, up to `max`. Emits each limit it sets. For CPU, see {@link targetLimit}.
 *
 * @example
 * const limiter = new Limiter(1000, { queueSize: 64 });
 * adaptiveLimit(limiter, eventLoopDelayMs(100), { target: 50, min: 8 }).subscribe((limit) => metrics.limit = limit);
 *
 * @param samples The signal, e.g. {@link eventLoopDelayMs} or {@link heapUsedMiB}.
 * @throws {TypeError | RangeError} At call time, on an option out of range, naming it and its value.
 */
export function adaptiveLimit(limiter: Limiter, samples: Observable<number>, options: AdaptiveLimitOptions): Observable<number> {
  const { target, min = 1, max = limiter.limit, decrease = 0.9 } = checkOptions('adaptiveLimit: options', options);
  checkNumber('adaptiveLimit: options.target', target, { above: 0, max: Infinity }); // Infinity: never above it
  checkInteger('adaptiveLimit: options.min', min, 1);
  checkInteger('adaptiveLimit: options.max', max, min);
  checkNumber('adaptiveLimit: options.decrease', decrease, { above: 0, below: 1 });
  return samples.pipe(
    map((value) => {
      const limit = limiter.limit;
      // From the live count when it is below the limit: shrinking a limit nobody reaches would
      // take many readings to bind at all.
      if (value > target) return Math.max(min, Math.floor(Math.min(limit, limiter.live) * decrease));
      return limiter.full ? Math.min(max, limit + 1) : Math.min(max, limit);
    }),
    distinctUntilChanged(),
    tap((limit) => {
      if (limit !== limiter.limit) limiter.setLimit(limit);
    }),
  );
}
