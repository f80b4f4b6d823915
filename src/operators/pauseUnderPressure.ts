import { asyncScheduler, type MonoTypeOperatorFunction, type Observable, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import type { Accepted, ListenerControl } from '../errors/result';
import { Limiter } from '../limit/limiter';
import { checkDelay, checkFunction, checkInstance, checkKnownOptions, checkScheduler, checkString, optionNames, show } from '../util/validate';
import { ListenerPauses } from './internal/listenerPauses';
import { forward, operate } from './internal/operate';

/** A signal of how loaded the process is, and where it stops accepting. */
export interface Pressure {
  /** Names the signal in the log and in the listener's pause reasons (`pressure:NAME`). */
  readonly name: string;
  /** Its readings: a monitor ({@link eventLoopDelayMs}, {@link heapUsedMiB}, ...) or any Observable (a queue depth, a downstream's health). */
  readonly samples: Observable<number>;
  /** Accepting stops when a reading is above this. */
  readonly above: number;
  /** Accepting resumes once a reading is at or below this (hysteresis, so it does not flap). Default 80% of `above`. */
  readonly below?: number;
  /** For the log line: `'ms'`, `'MiB'`, ... Default none. */
  readonly unit?: string;
}

/** What {@link pauseUnderPressure} logs, once per pause. */
export interface PressureWarning {
  /** One line: the signal, its value, the threshold, the hint. */
  readonly message: string;
  /** The signal's name. */
  readonly signal: string;
  /** The reading that started the pause. */
  readonly value: number;
  /** The threshold it crossed (`above`). */
  readonly threshold: number;
  /** What to do about it, with a link into `docs/errors.md`. */
  readonly hint: string;
  /** Pauses since the previous entry that were not logged (at most one entry per `logWindow`). */
  readonly suppressed: number;
  /** With `shedHeaviest`: the addresses refused instead of pausing; empty when the listeners paused. */
  readonly shed: readonly string[];
}

/** Options of {@link pauseUnderPressure}. */
export interface PauseUnderPressureOptions {
  /** The shortest pause, ms, however soon the signal falls back. Default 500. */
  minPause?: number;
  /** Called when a pause starts, at most once per `logWindow`. Default: none. An exception it throws errors the stream. */
  onPause?: (warning: PressureWarning) => void;
  /** The shortest time between two `onPause` calls, ms. Default 1000. */
  logWindow?: number;
  /**
   * While a signal is over, this limiter refuses the addresses that brought most new connections
   * ({@link index!Limiter.shedHeaviest}), and the listeners pause only when none stands out. Default: none.
   */
  shedHeaviest?: Limiter;
  /** Where `minPause` is timed. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

const OPTIONS = optionNames<PauseUnderPressureOptions>({ minPause: true, onPause: true, logWindow: true, shedHeaviest: true, scheduler: true });
const PRESSURE = optionNames<Pressure>({ name: true, samples: true, above: true, below: true, unit: true });

const HINT =
  'The process is overloaded: new connections are refused until it recovers (a refused connection costs it nothing, a queued one costs every client a wait). ' +
  'Add processes or machines, make handlers cheaper, or raise the threshold if it is too strict. See rxjs-listen/docs/errors.md#overload';

/**
 * Stops accepting while the process is overloaded: while any signal's last reading is above its
 * threshold, every listener whose results pass here is paused (the kernel refuses new clients at
 * no cost to the process), until the reading is back at or below the lower mark and `minPause`
 * has passed. Results pass through unchanged. Place it right after the listener (after
 * {@link proxy!proxyProtocol} with `shedHeaviest` behind a balancer).
 *
 * ```
 * lag (ms):  -1--150---90--60--40-|     above 100, below 80, minPause 3 frames
 * results:   a-----b------------c-|
 * paused:        [--------]            from 150 until 60, the first reading <= 80 after minPause
 * output:    a-----b------------c-|
 * ```
 *
 * @example
 * listen({ port: 8080 }).pipe(
 *   pauseUnderPressure([{ name: 'eventLoopDelay', samples: eventLoopDelayMs(100), above: 100, unit: 'ms' }], { onPause: (w) => log.warn(w) }),
 *   handleErrors(), backpressure(limiter), serve(handTo(app)),
 * ).subscribe();
 *
 * @throws {TypeError | RangeError} At call time, on a bad {@link Pressure} or option, naming it and its value.
 */
export function pauseUnderPressure<R extends Pick<Accepted, 'listener'>>(
  pressures: readonly Pressure[],
  options: PauseUnderPressureOptions = {},
): MonoTypeOperatorFunction<R> {
  if (!Array.isArray(pressures)) throw new TypeError(`pauseUnderPressure: pressures must be an array, got ${show(pressures)}`);
  const signals = pressures.map((pressure, i) => checkPressure(pressure, `pauseUnderPressure: pressures[${i}]`));
  const { minPause = 500, onPause, logWindow = 1000, shedHeaviest, scheduler = asyncScheduler } = checkKnownOptions('pauseUnderPressure: options', options, OPTIONS);
  if (shedHeaviest !== undefined) checkInstance('pauseUnderPressure: options.shedHeaviest', shedHeaviest, Limiter);
  checkDelay('pauseUnderPressure: options.minPause', minPause);
  checkDelay('pauseUnderPressure: options.logWindow', logWindow);
  if (onPause !== undefined) checkFunction('pauseUnderPressure: options.onPause', onPause);
  checkScheduler('pauseUnderPressure: options.scheduler', scheduler);

  return operate((source: Observable<R>, subscriber: Subscriber<R>) => {
    const listeners = new Set<ListenerControl>();
    let loggedAt = -Infinity;
    let suppressed = 0;
    // Each signal over its threshold since `since`, or not; while over, it sheds or holds the listeners paused.
    // `calm`: the resume scheduled at minPause, the signal back down before it.
    const states = signals.map((signal) => ({
      signal,
      since: undefined as number | undefined,
      shedding: false,
      calm: undefined as Subscription | undefined,
      pauses: new ListenerPauses(`pressure:${signal.name}`),
    }));
    const unwatch = shedHeaviest?.watchArrivals();

    const log = ({ name, above, below, unit = '' }: (typeof signals)[number], value: number, at: number, shed: readonly string[]): void => {
      if (at - loggedAt < logWindow) return void suppressed++;
      loggedAt = at;
      const more = suppressed === 0 ? '' : ` (${suppressed} more pauses since the last entry)`;
      const action = shed.length === 0 ? 'not accepting' : `refusing new connections from ${shed.join(', ')} (most of the new ones)`;
      const message = `overload: ${name} ${round(value)}${unit} is above ${round(above)}${unit}; ${action} until it is at or below ${round(below)}${unit}${more}. ${HINT}`;
      const warning = { message, signal: name, value, threshold: above, hint: HINT, suppressed, shed };
      suppressed = 0;
      onPause?.(warning);
    };

    // Sheds the heaviest addresses if any stand out, else pauses. The limiter's shedding is one for all signals.
    const act = (state: (typeof states)[number]): readonly string[] => {
      const shed = shedHeaviest?.shedHeaviest() ?? [];
      state.shedding = shed.length > 0;
      if (state.shedding) state.pauses.release();
      else state.pauses.pause(listeners);
      return shed;
    };

    const resume = (state: (typeof states)[number]): void => {
      state.calm?.unsubscribe();
      state.calm = undefined;
      state.since = undefined;
      state.shedding = false;
      state.pauses.release();
      if (states.every((other) => other.since === undefined)) shedHeaviest?.stopShedding();
    };

    const reading = (state: (typeof states)[number], value: number): void => {
      const { signal } = state;
      if (state.since === undefined) {
        if (value > signal.above) {
          state.since = scheduler.now();
          log(signal, value, state.since, act(state));
        }
        return;
      }
      const wait = state.since + minPause - scheduler.now();
      if (value <= signal.below && wait <= 0) return resume(state);
      if (value > signal.below) {
        state.calm?.unsubscribe();
        state.calm = undefined;
      } else if (state.calm === undefined) {
        // Back down before minPause: resume then, unless a reading goes up again (a calm monitor's
        // period stretches: waiting for its next reading held the listener closed for nothing).
        subscriber.add((state.calm = scheduler.schedule(() => resume(state), wait)));
      }
      if (shedHeaviest !== undefined) act(state);
    };

    for (const state of states) subscriber.add(state.signal.samples.subscribe(forward(subscriber, (value: number) => reading(state, value), () => undefined)));
    subscriber.add(
      source.subscribe(
        forward(subscriber, (result) => {
          if (!listeners.has(result.listener)) {
            listeners.add(result.listener);
            for (const state of states) if (state.since !== undefined && !state.shedding) state.pauses.pause(listeners);
          }
          subscriber.next(result);
        }),
      ),
    );
    return () => {
      states.forEach((state) => state.pauses.release());
      shedHeaviest?.stopShedding();
      unwatch?.();
    };
  });
}

function checkPressure(pressure: Pressure, name: string): Required<Pick<Pressure, 'below'>> & Pressure {
  checkKnownOptions(name, pressure, PRESSURE);
  checkString(`${name}.name`, pressure.name);
  if (typeof (pressure.samples as Partial<Observable<number>> | undefined)?.subscribe !== 'function') throw new TypeError(`${name}.samples must be an Observable, got ${show(pressure.samples)}`);
  if (typeof pressure.above !== 'number' || !Number.isFinite(pressure.above)) throw new TypeError(`${name}.above must be a finite number, got ${show(pressure.above)}`);
  const below = pressure.below ?? pressure.above * 0.8;
  if (typeof below !== 'number' || !(below <= pressure.above)) throw new RangeError(`${name}.below must be a number <= above (${pressure.above}), got ${show(pressure.below)}`);
  if (pressure.unit !== undefined && typeof pressure.unit !== 'string') throw new TypeError(`${name}.unit must be a string, got ${show(pressure.unit)}`);
  return { ...pressure, below };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
