import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { checkFunction, checkInteger, checkOptions } from '../../util/validate';

/**
 * The options every monitor takes, as Envoy's resource monitors share theirs; a number instead is
 * `every`. A monitor checks them at call time (a `TypeError` or `RangeError` names the option and
 * its value), and is cold: it reads only while subscribed.
 */
export interface MonitorOptions {
  /** The period, ms, while readings are not calm (under load): an integer >= 1. Each monitor has its default. */
  every?: number;
  /** The longest period, ms, calm readings double it up to (any other brings it back to `every`): an integer >= `every`. */
  idleEvery?: number;
  /** Where periods are timed (a `TestScheduler` in tests). Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/**
 * A monitor's options, checked and defaulted at call time; errors name `caller` and the option.
 * `idleEvery` defaults to the monitor's default, or to `every` if that is longer (so that a long
 * `every` alone is never refused); without a default, the period never stretches.
 */
export function settleOptions<T extends MonitorOptions>(
  caller: string,
  options: number | T | undefined,
  defaults: { every: number; idleEvery?: number },
): Omit<T, keyof MonitorOptions> & Required<MonitorOptions> & { name: (option: string) => string } {
  const name = (option: string): string => `${caller}: options.${option}`;
  const given: T = options === undefined ? ({} as T) : typeof options === 'number' ? ({ every: options } as T) : checkOptions(`${caller}: options`, options);
  const every = checkInteger(name('every'), given.every === undefined ? defaults.every : given.every, 1);
  const idleDefault = defaults.idleEvery === undefined ? every : Math.max(defaults.idleEvery, every);
  const idleEvery = checkInteger(name('idleEvery'), given.idleEvery === undefined ? idleDefault : given.idleEvery, every);
  const scheduler = given.scheduler === undefined ? asyncScheduler : checkOptions(name('scheduler'), given.scheduler);
  checkFunction(name('scheduler.schedule'), scheduler.schedule);
  return { ...given, every, idleEvery, scheduler, name };
}
