import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { asyncScheduler, distinctUntilChanged, interval, map, startWith, type Observable, type SchedulerLike } from 'rxjs';
import { Limiter } from '../limit/limiter';
import { Metrics } from '../metrics/metrics';
import { checkInstance, checkInteger, checkScheduler } from '../util/validate';

/**
 * What the accept loop is doing: `'accepting'`, `'paused'` (the listener closed for a while: full,
 * overloaded, short of descriptors), `'draining'` (serving until traffic stops), `'stopped'`.
 */
export type Phase = 'accepting' | 'paused' | 'draining' | 'stopped';

/** The loop's state at one moment ({@link LoopStatus}). */
export interface LoopState {
  /** What the loop is doing. */
  readonly phase: Phase;
  /** The reasons holding the listeners paused (`'limit'`, `'shortage'`, `'pressure:NAME'`, ...). */
  readonly pauses: readonly string[];
  /** Live connections. */
  readonly live: number;
  /** The connection limit in force (learned, with {@link overload!targetLimit}); 0 without a limiter. */
  readonly limit: number;
  /** Connections waiting for a slot. */
  readonly waiting: number;
  /** How many may wait. */
  readonly queueSize: number;
  /** The share of the event loop's time spent running, 0 to 1 in hundredths, over the last 100 to 200 ms. */
  readonly busy: number;
  /** Exchanges finished per second of the loop's running time, over a recent window of 3 or more; `undefined` until known. */
  readonly capacity: number | undefined;
  /** Room for more, 0 to 1, while accepting (else 0): the least of the limits' unused shares and `1 - busy` (bench/RESULTS.md 16). */
  readonly headroom: number;
}

/** The shortest window `busy` is measured over, ms: readings closer together share one. */
const BUSY_WINDOW_MS = 100;
/** The fewest completed exchanges `capacity` is measured over, and how long (ms) a window with fewer may grow. */
const CAPACITY_EXCHANGES = 3;
const CAPACITY_STALE_MS = 10_000;

/**
 * The accept loop's state as a value, for {@link healthCheck}, {@link agentCheck} and anything that
 * must tell "alive but full" from "down". Read on demand: nothing on the accept path.
 *
 * @example
 * const status = new LoopStatus(metrics, limiter);
 * status.changes().subscribe((s) => log.info(s)); // { phase: 'accepting', live: 3, limit: 100, busy: 0.2, capacity: 850, headroom: 0.8, ... }
 */
export class LoopStatus {
  #phase: 'running' | 'draining' | 'stopped' = 'running';
  // The last two points where a window of `busy` began, at least BUSY_WINDOW_MS apart.
  #before: EventLoopUtilization = performance.eventLoopUtilization();
  #since = this.#before;
  // Where the window of `capacity` began (the loop's time, the completed exchanges), and its last figure.
  #capacityFrom: { loop: EventLoopUtilization; completed: number } | undefined;
  #capacity: number | undefined;

  /**
   * @param metrics Counts the loop's results (`metrics.count()` right after the listener).
   * @param limiter The loop's limiter, if any.
   * @throws {TypeError} When `metrics` is not a {@link metrics!Metrics}, or `limiter` is given and is not a {@link index!Limiter}.
   */
  constructor(
    readonly metrics: Metrics,
    readonly limiter?: Limiter,
  ) {
    checkInstance('LoopStatus: metrics', metrics, Metrics);
    if (limiter !== undefined) checkInstance('LoopStatus: limiter', limiter, Limiter);
  }

  /** The state now. */
  get state(): LoopState {
    const { pauses, live, limit, waiting, queueSize, completed, inFlight, exchangeLimit } = this.metrics.snapshot();
    const phase: Phase = this.#phase === 'running' ? (pauses.length > 0 ? 'paused' : 'accepting') : this.#phase;
    const now = performance.eventLoopUtilization();
    const busy = this.#busyShare(now);
    const capacity = this.limiter === undefined ? undefined : this.#capacityNow(now, completed);
    const exchangeRoom = exchangeLimit === Infinity ? 1 : Math.max(0, exchangeLimit - inFlight) / exchangeLimit;
    const room = this.limiter === undefined ? 1 : Math.min(Math.max(0, limit - live) / limit, exchangeRoom);
    const headroom = phase !== 'accepting' ? 0 : Math.min(room, 1 - busy);
    return { phase, pauses, live, limit, waiting, queueSize, busy, capacity, headroom };
  }

  /** Completed exchanges per second of busy time (every cost of the loop counted as theirs) in the last full window. */
  #capacityNow(now: EventLoopUtilization, completed: number): number | undefined {
    const from = (this.#capacityFrom ??= { loop: now, completed });
    const done = completed - from.completed;
    const { active, idle } = performance.eventLoopUtilization(now, from.loop);
    const full = done >= CAPACITY_EXCHANGES && active > 0;
    if (full) this.#capacity = Math.round((done * 1000) / active);
    // A new window after a full one, or a quiet one: its timers are not what the next exchanges cost.
    if (full || active + idle > CAPACITY_STALE_MS) this.#capacityFrom = { loop: now, completed };
    return this.#capacity;
  }

  /** The busy share over the last BUSY_WINDOW_MS to twice that: fresh for each check, yet longer than one callback. */
  #busyShare(now: EventLoopUtilization): number {
    const open = performance.eventLoopUtilization(now, this.#since); // the window under way
    if (open.idle + open.active >= BUSY_WINDOW_MS) [this.#before, this.#since] = [this.#since, now];
    const share = performance.eventLoopUtilization(now, this.#before).utilization;
    return Math.round(Math.min(1, Math.max(0, share)) * 100) / 100; // hundredths: changes() compares states
  }

  /**
   * The state now and whenever it has changed, read every `ms` (default 100) on `scheduler` (default `asyncScheduler`) while subscribed.
   *
   * @throws {TypeError | RangeError} On an `ms` that is not an integer >= 1, or a `scheduler` that is not one.
   */
  changes(ms = 100, scheduler: SchedulerLike = asyncScheduler): Observable<LoopState> {
    checkInteger('LoopStatus.changes: ms', ms, 1);
    checkScheduler('LoopStatus.changes: scheduler', scheduler);
    return interval(ms, scheduler).pipe(
      startWith(0),
      map(() => this.state),
      distinctUntilChanged((a, b) => JSON.stringify(a) === JSON.stringify(b)),
    );
  }

  /** Shutdown has begun: readiness fails and the agent says `drain`, while the loop serves on (see {@link drain}). */
  drain(): void {
    if (this.#phase === 'running') this.#phase = 'draining';
  }

  /** The loop no longer accepts (its `serve` was aborted or completed). */
  stop(): void {
    this.#phase = 'stopped';
  }
}
