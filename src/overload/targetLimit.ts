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
 * Learns how many exchanges may be in flight ({@link index!Limiter.exchangeLimit}) from what an
 * exchange costs: at `serviceTimeMs` ms of the event loop each, `target / serviceTimeMs` finish
 * within `target` ms (Little's law). A request beyond them is answered at once that the server is
 * overloaded (HTTP `503`, see {@link index!Token.tryBusy}) instead of waiting behind work it would
 * time out in anyway. It bounds exchanges, not connections: an idle keep-alive connection costs
 * the loop nothing. Unlike {@link adaptiveLimit} it needs no signal that rises with the load
 * (Node's event-loop delay stays flat while clients wait in the kernel, see
 * {@link eventLoopBusyMs}); once the load is gone the limit returns to `max`. Emits each limit it
 * sets; it runs while subscribed (the last limit stays when it stops).
 *
 * @example
 * const limiter = new Limiter(1000);
 * targetLimit(limiter, serviceTimeMs(limiter), { target: 100 }).subscribe((limit) => log.info({ limit }));
 *
 * @param limiter The limiter whose exchange limit to set.
 * @param serviceTimes What one exchange costs the loop, ms: {@link serviceTimeMs}. A reading that
 *   is not a number >= 0 errors the result, naming it.
 * @param options The target and the bounds.
 * @returns The limits set.
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
