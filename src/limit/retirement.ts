import type { SchedulerLike } from 'rxjs';
import type { Counts } from './counts';
import { IdlePool, retire } from './idlePool';
import type { SlotToken } from './token';

/** What {@link Retirement} reads of its limiter's slots: the {@link index!Limiter} itself. */
export interface Slots {
  /** Connections waiting for a slot now. */
  readonly waiting: number;
  /** Whether every slot is taken. */
  readonly full: boolean;
}

/** Where an owner's waiting connections are ended: the limiter's wait queue. */
export interface Queue {
  /** Ends every connection `owner` queued. */
  withdraw(owner: object): void;
}

/**
 * When a {@link index!Limiter}'s live connections end without their client ending them, and how:
 * idle ones closed, longest idle first, to admit a waiting connection (reclaim); those of an
 * owner withdrawn (its operator unsubscribed: `serve`'s shutdown) closed as they go idle, at
 * once or once unused for {@link index!Limiter.closeIdleAfter}'s time, and those whose protocol
 * retires gracefully (HTTP/2 GOAWAY, a WebSocket close) at once; and every one after its
 * exchange from {@link index!Limiter.retireAfterExchanges} on.
 */
export class Retirement {
  readonly #idle = new IdlePool();
  // Connections whose protocol retires them gracefully (HTTP/2, WebSocket): retired at shutdown
  // busy or not. A Set is fine here: they are few and long-lived (see LinkedList on why the
  // accept path keeps none).
  readonly #graceful = new Set<SlotToken>();
  // Owners whose operator has ended: their connections retire (close as they go idle).
  readonly #withdrawn = new WeakSet<object>();
  // Whether any owner is withdrawn: spares the WeakSet lookup on every idle() and header decision.
  #withdrawnAny = false;
  // Every connection retires after its exchange, idle ones left open (see retireAfterExchanges).
  #retiringAll = false;
  /**
   * How long a withdrawal leaves an idle connection open, ms (see closeIdleAfter); 0: closed
   * at once. Behind a load balancer: under traffic a balancer keeps reusing its idle
   * connections (and each then ends after its response), so one left unused that long is one
   * it no longer chooses, and closing it races no request.
   */
  idleGraceMs = 0;

  /**
   * @param slots Whether connections wait with every slot taken: what reclaim frees slots for.
   * @param counts Where reclaimed connections are counted.
   * @param scheduler Where the sweeps of closeIdleAfter are timed.
   */
  constructor(
    private readonly slots: Slots,
    private readonly counts: Counts,
    private readonly scheduler: SchedulerLike,
  ) {}

  /** Whether `token`'s connection should end after its exchange: every one does, or its owner was withdrawn. */
  retiring(token: SlotToken): boolean {
    return this.#retiringAll || this.#withdraws(token);
  }

  /**
   * The connection went idle: into the pool, and retired if its owner was withdrawn (now, or by
   * the sweep once it has stayed idle).
   *
   * @returns Whether its owner was withdrawn (then it is no one's to reclaim).
   */
  wentIdle(token: SlotToken): boolean {
    this.#idle.add(token);
    if (!this.#withdraws(token)) return false;
    if (this.idleGraceMs === 0) this.#idle.close(token);
    else this.#sweepIdle(); // closed once it has stayed idle
    return true;
  }

  /** The connection began an exchange: not idle any more. */
  wentBusy(token: SlotToken): void {
    this.#idle.remove(token);
  }

  /** The connection's slot was freed: nothing of it is kept. */
  released(token: SlotToken): void {
    this.#idle.remove(token);
    if (token.graceful) this.#graceful.delete(token);
  }

  /** The connection may be retired at any time ({@link index!Token.retireWith}): at once if its owner was withdrawn. */
  retiresGracefully(token: SlotToken): void {
    if (this.#withdraws(token)) retire(token);
    else this.#graceful.add(token);
  }

  /**
   * `owner`'s operator has ended: what it queued is ended, its idle connections retire now (or
   * once unused, see closeIdleAfter) and so do graceful ones, busy ones as they go idle.
   */
  withdraw(owner: object, queue: Queue): void {
    this.#withdrawn.add(owner);
    this.#withdrawnAny = true;
    // Its waiting connections end first: a slot its idle ones free must not admit one of them.
    queue.withdraw(owner);
    if (this.idleGraceMs === 0) for (const token of this.#idle.ownedBy(owner)) this.#idle.close(token);
    else this.#sweepIdle();
    for (const token of [...this.#graceful]) if (token.owner === owner) retire(token);
  }

  /**
   * Every connection, live now or admitted later, retires after its current exchange; the idle
   * ones are left open: a load balancer may be sending a request on one of them this very
   * moment, and a request that meets a close is lost (a proxy does not retry a POST it has
   * sent). ({@link balancer!drain} does not use it: more new connections mean a longer accept queue to
   * reset when the listener closes.)
   */
  retireAll(): void {
    this.#retiringAll = true;
  }

  /** With connections waiting and every slot taken, closes the connections idle the longest. */
  reclaim(): void {
    // Each turn takes the first idle token out of the pool (closed, or busy again).
    for (let token = this.#idle.first; token !== undefined; token = this.#idle.first) {
      if (this.slots.waiting === 0 || !this.slots.full) return;
      if (this.#idle.close(token)) this.counts.reclaimed++;
    }
  }

  /** Idle connections now, by protocol: walks the pool. */
  idleByProtocol(): Record<string, number> {
    return this.#idle.byProtocol();
  }

  /** Whether `token`'s owner was withdrawn. */
  #withdraws(token: SlotToken): boolean {
    return this.#withdrawnAny && this.#withdrawn.has(token.owner);
  }

  /** Closes withdrawn owners' idle connections once unused for `idleGraceMs` (see closeIdleAfter). */
  #sweepIdle(): void {
    this.#idle.sweep(this.#withdrawn, this.idleGraceMs, this.scheduler);
  }
}
