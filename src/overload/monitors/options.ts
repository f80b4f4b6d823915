import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { checkFunction, checkInteger, checkOptions } from '../../util/validate';

/**
 * The options every monitor takes; a monitor may add its own.
 *
 * Modelled on Envoy's resource monitors, which share theirs. A monitor also takes a number
 * instead: `every`.
 */
export interface MonitorOptions {
  /** The period, ms, while readings are not calm (under load): an integer >= 1. Each monitor has its default. */
  every?: number;
  /**
   * The longest period, ms: calm readings double the period up to this, and any other brings it
   * back to `every` at once. An integer >= `every`; each monitor says what is calm and what the default is.
   */
  idleEvery?: number;
  /** Where periods are timed (a `TestScheduler` in tests). Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** A monitor's periods when it is given none: `idleEvery` absent means the period never stretches. */
export interface MonitorDefaults {
  /** The period, ms, when `every` is not given. */
  every: number;
  /** The longest period, ms, when `idleEvery` is not given (or `every`, if that is longer). */
  idleEvery?: number;
}

/** Options checked and defaulted, with how the monitor names its own options in errors. */
export type Settled<T extends MonitorOptions> = Omit<T, keyof MonitorOptions> & {
  every: number;
  idleEvery: number;
  scheduler: SchedulerLike;
  /** `option` as the caller wrote it, after the function's name: `heapUsedMiB: options.collectAbove`. */
  name: (option: string) => string;
};

/**
 * A monitor's options, checked and defaulted at call time.
 *
 * A number is `every`. `every` must be an integer >= 1 and `idleEvery` one >= `every`;
 * `idleEvery` defaults to the monitor's default or to `every` if that is longer (so that a long
 * `every` alone is never refused), and `scheduler` to `asyncScheduler`. Throws a `TypeError` or
 * a `RangeError` naming the function, the option and the value.
 *
 * @example
 * settleOptions('eventLoopDelayMs', 1000, { every: 100, idleEvery: 500 }); // every 1000, idleEvery 1000
 * settleOptions('eventLoopDelayMs', { every: 0 }, { every: 100 });
 * // RangeError: eventLoopDelayMs: options.every must be an integer >= 1, got 0
 *
 * @param caller The function called, for errors to name: `eventLoopDelayMs`.
 * @param options As given: a number (`every`), an object, or `undefined`.
 * @param defaults The monitor's periods.
 * @returns The options with the shared ones filled in (the monitor checks its own).
 */
export function settleOptions<T extends MonitorOptions>(caller: string, options: number | T | undefined, defaults: MonitorDefaults): Settled<T> {
  const name = (option: string): string => `${caller}: options.${option}`;
  const given: T = options === undefined ? ({} as T) : typeof options === 'number' ? ({ every: options } as T) : checkOptions(`${caller}: options`, options);
  const every = checkInteger(name('every'), given.every === undefined ? defaults.every : given.every, 1);
  const idleDefault = defaults.idleEvery === undefined ? every : Math.max(defaults.idleEvery, every);
  const idleEvery = checkInteger(name('idleEvery'), given.idleEvery === undefined ? idleDefault : given.idleEvery, every);
  const scheduler = given.scheduler === undefined ? asyncScheduler : checkOptions(name('scheduler'), given.scheduler);
  checkFunction(name('scheduler.schedule'), scheduler.schedule);
  return { ...given, every, idleEvery, scheduler, name };
}
