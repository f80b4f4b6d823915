import { distinctUntilChanged, map, scan, tap, type Observable } from 'rxjs';
import type { Limiter } from '../limit/limiter';
import { checkInteger, checkKnownOptions, checkNumber } from '../util/validate';

/** Options of {@link targetLimit}. */
export interface TargetLimitOptions {
  /** The longest, in ms, an admitted exchange should take, waiting behind the others included: a finite number > 0. */
  target: number;
  /** The lowest limit, an integer >= 1. Default 1. */
  min?: number;
  /** The highest limit, an integer >= `min`. Default: the limiter's connection limit. */
  max?: number;
  /** The weight of a new reading against the ones before (an exponential average), above 0, at most 1. Default 0.5. */
  weight?: number;
}

/**
 * Learns how many exchanges may be in flight ({@link index!Limiter.exchangeLimit}) from what one
 * costs the event loop: `target / serviceTimeMs` finish within `target` ms (Little's law), and a
 * request beyond them is answered `503` at once ({@link index!Token.tryBusy}). Emits each limit it
 * sets, while subscribed (the last one stays when it stops).
 *
 * @example
 * const limiter = new Limiter(1000);
 * targetLimit(limiter, serviceTimeMs(limiter), { target: 100 }).subscribe((limit) => log.info({ limit }));
 *
 * @param serviceTimes What one exchange costs the loop, ms: {@link serviceTimeMs}. A reading that
 *   is not a number >= 0 errors the result, naming it.
 * @throws {TypeError | RangeError} At call time, on an option out of range, naming it and its value.
 */
export function targetLimit(limiter: Limiter, serviceTimes: Observable<number>, options: TargetLimitOptions): Observable<number> {
  const { target, min = 1, max = limiter.limit, weight = 0.5 } = checkKnownOptions('targetLimit: options', options, ['target', 'min', 'max', 'weight']);
  checkNumber('targetLimit: options.target', target, { above: 0 });
  checkInteger('targetLimit: options.min', min, 1);
  checkInteger('targetLimit: options.max', max, min);
  checkNumber('targetLimit: options.weight', weight, { above: 0, max: 1 });
  return serviceTimes.pipe(
    scan((average: number, cost) => {
      if (typeof cost !== 'number' || !(cost >= 0)) throw new RangeError(`targetLimit: a service time must be a number >= 0, got ${String(cost)}`);
      return Number.isNaN(average) ? cost : average + weight * (cost - average);
    }, NaN),
    map((cost) => Math.min(max, Math.max(min, Math.floor(target / cost)))), // max when an exchange costs nothing
    distinctUntilChanged(),
    tap((limit) => limiter.setExchangeLimit(limit)),
  );
}
