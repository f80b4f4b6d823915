import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { asyncScheduler, distinctUntilChanged, interval, map, startWith, type Observable, type SchedulerLike } from 'rxjs';
import { Limiter } from '../limit/limiter';
import { Metrics } from '../metrics/metrics';
import { checkInstance, checkInteger, checkScheduler } from '../util/validate';

/**
 * What the accept loop is doing, as the systems in front of it need to know:
 * - `'accepting'`: new connections are served (or wait in the queue);
 * - `'paused'`: the listener is closed for a while (full, overloaded, short of descriptors):
 *   new clients are refused;
 * - `'draining'`: shutting down, still serving what arrives until traffic stops;
 * - `'stopped'`: no longer accepting.
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
  /**
   * The share of the event loop's time spent running rather than waiting for I/O, 0 to 1 in
   * hundredths, over the last 100 to 200 ms before this reading (since the status was made, at
   * first).
   */
  readonly busy: number;
  /**
   * Exchanges the loop finishes per second of its running time (completed exchanges over busy
   * time, in a recent window where at least 3 completed): what it could serve if it ran all the
   * time, so that a balancer can weigh backends by what each can do; `undefined` until known
   * (no limiter, or fewer than 3 exchanges so far).
   */
  readonly capacity: number | undefined;
  /**
   * Room for more, 0 to 1, while accepting: the smallest of the share of the connection limit
   * not in use (1 without a limiter), the share of the exchange limit not in use (where
   * `targetLimit` learns one) and the share of the loop's time left idle (`1 - busy`); 0 in any other
   * phase. What a load balancer's weight can follow: a loop that runs all the time has no room,
   * whatever its limit says (bench/RESULTS.md section 16).
   */
  readonly headroom: number;
}

/** The shortest window `busy` is measured over, ms: readings closer together share one. */
const BUSY_WINDOW_MS = 100;
/** The fewest completed exchanges `capacity` is measured over; a window with fewer grows on. */
const CAPACITY_EXCHANGES = 3;
/** A window of `capacity` that has not reached CAPACITY_EXCHANGES in this long (ms) starts again. */
const CAPACITY_STALE_MS = 10_000;

/**
 * The accept loop's state as a value, for health endpoints ({@link healthCheck}), HAProxy's
 * agent ({@link agentCheck}) and anything that must tell "alive but full" from "down". Read
 * on demand: it costs nothing until read, and nothing on the accept path.
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
   * @param metrics Counts the loop's results (place `metrics.count()` right after the listener): where pauses are read.
   * @param limiter The loop's limiter, if any: where live connections, the limit and the queue are read.
   * @throws {TypeError} When `metrics` is not a {@link metrics!Metrics}, or `limiter` is given and is not a {@link index!Limiter}.
   */
  constructor(
    readonly metrics: Metrics,
    readonly limiter?: Limiter,
  ) {
    // Checked now: a look-alike would fail at the first probe, in the balancer's log, not here.
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
    // Room under the connection limit, and under the exchange limit where one is learned.
    const exchangeRoom = exchangeLimit === Infinity ? 1 : Math.max(0, exchangeLimit - inFlight) / exchangeLimit;
    const room = this.limiter === undefined ? 1 : Math.min(Math.max(0, limit - live) / limit, exchangeRoom);
    const headroom = phase !== 'accepting' ? 0 : Math.min(room, 1 - busy);
    return { phase, pauses, live, limit, waiting, queueSize, busy, capacity, headroom };
  }

  /**
   * Completed exchanges per second of busy time since the window began, once at least
   * CAPACITY_EXCHANGES have completed in it (then a new window begins); the last figure until
   * then. Counts every cost of the loop (accepts, refusals, timers) as the exchanges'.
   */
  #capacityNow(now: EventLoopUtilization, completed: number): number | undefined {
    const from = (this.#capacityFrom ??= { loop: now, completed });
    const done = completed - from.completed;
    const { active, idle } = performance.eventLoopUtilization(now, from.loop);
    if (done >= CAPACITY_EXCHANGES && active > 0) {
      this.#capacity = Math.round((done * 1000) / active);
      this.#capacityFrom = { loop: now, completed };
    } else if (active + idle > CAPACITY_STALE_MS) {
      this.#capacityFrom = { loop: now, completed }; // quiet for long: its timers are not what the next exchanges cost
    }
    return this.#capacity;
  }

  /**
   * The loop's busy share until now, over at least the last BUSY_WINDOW_MS (at most twice
   * that): a fresh figure at every reading, so that a balancer sees a burst at its next check,
   * over a window long enough not to be one callback. Read on demand (a few µs, nothing on the
   * accept path).
   */
  #busyShare(now: EventLoopUtilization): number {
    const open = performance.eventLoopUtilization(now, this.#since); // the window under way
    if (open.idle + open.active >= BUSY_WINDOW_MS) [this.#before, this.#since] = [this.#since, now];
    const share = performance.eventLoopUtilization(now, this.#before).utilization;
    return Math.round(Math.min(1, Math.max(0, share)) * 100) / 100; // hundredths: changes() compares states
  }

  /**
   * The state now and whenever it has changed, read every `ms` while subscribed.
   *
   * @param ms How often to read it. Default 100.
   * @param scheduler Where the reads are timed. Default `asyncScheduler`.
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

  /**
   * Shutdown has begun: readiness fails and the agent says `drain` from now on, while the loop
   * goes on serving as before (see {@link drain}).
   */
  drain(): void {
    if (this.#phase !== 'running') return;
    this.#phase = 'draining';
  }

  /** The loop no longer accepts (its `serve` was aborted or completed). */
  stop(): void {
    this.#phase = 'stopped';
  }
}
