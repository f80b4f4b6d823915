import type { SchedulerLike, Subscription } from 'rxjs';
import { LinkedList } from '../util/linkedList';
import type { Counts } from './counts';
import type { Limiter } from './limiter';
import type { SlotToken } from './token';
import type { WaitQueue } from './waitQueue';

/**
 * When a {@link index!Limiter}'s live connections end without their client ending them: the idle ones,
 * longest idle first, to admit a waiting connection (reclaim); those of a withdrawn owner (its operator
 * unsubscribed) as they go idle, graceful ones (HTTP/2 GOAWAY) at once; every one after its exchange
 * from {@link index!Limiter.retireAfterExchanges} on.
 */
export class Retirement {
  // Connections between exchanges, longest idle first.
  readonly #idle = new LinkedList<SlotToken>();
  // Retired at shutdown busy or not. A Set is fine: they are few and long-lived (see LinkedList).
  readonly #graceful = new Set<SlotToken>();
  readonly #withdrawn = new WeakSet<object>();
  // Spares the WeakSet lookup on every idle() and header decision.
  #withdrawnAny = false;
  #retiringAll = false;
  // The sweep under way (see #sweepIdle), and each idle connection it saw, with what it had read.
  #sweep: Subscription | undefined;
  #swept = new Map<SlotToken, number>();
  /** How long a withdrawal leaves an idle connection open, ms (see Limiter.closeIdleAfter); 0: closed at once. */
  idleGraceMs = 0;

  /** @param slots What reclaim frees slots for: connections waiting with every slot taken. */
  constructor(
    private readonly slots: Pick<Limiter, 'waiting' | 'full'>,
    private readonly counts: Counts,
    private readonly scheduler: SchedulerLike,
  ) {}

  /** Whether `token`'s connection should end after its exchange. */
  retiring(token: SlotToken): boolean {
    return this.#retiringAll || this.#withdraws(token);
  }

  /** The connection went idle: into the pool, and retired if its owner was withdrawn (then it is no one's to reclaim: true). */
  wentIdle(token: SlotToken): boolean {
    token.readAtIdle = token.socket.bytesRead;
    this.#idle.remove(token);
    this.#idle.push(token);
    if (!this.#withdraws(token)) return false;
    if (this.idleGraceMs === 0) this.#close(token);
    else this.#sweepIdle();
    return true;
  }

  wentBusy(token: SlotToken): void {
    this.#idle.remove(token);
  }

  released(token: SlotToken): void {
    this.#idle.remove(token);
    if (token.graceful) this.#graceful.delete(token);
  }

  /** The connection may be retired at any time: at once if its owner was withdrawn. */
  retiresGracefully(token: SlotToken): void {
    if (this.#withdraws(token)) retire(token);
    else this.#graceful.add(token);
  }

  /** `owner`'s operator has ended: what it queued is ended, its idle and graceful connections retire. */
  withdraw(owner: object, queue: WaitQueue): void {
    this.#withdrawn.add(owner);
    this.#withdrawnAny = true;
    // Its waiting connections end first: a slot its idle ones free must not admit one of them.
    queue.withdraw(owner);
    if (this.idleGraceMs === 0) for (const token of this.#idleOf((o) => o === owner)) this.#close(token);
    else this.#sweepIdle();
    for (const token of [...this.#graceful]) if (token.owner === owner) retire(token);
  }

  /**
   * Every connection retires after its current exchange; idle ones are left open: a load balancer
   * may be sending a request on one this very moment, and a proxy does not retry a POST it has sent.
   * ({@link balancer!drain} does not use it: more new connections, a longer accept queue to reset at close.)
   */
  retireAll(): void {
    this.#retiringAll = true;
  }

  /** With connections waiting and every slot taken, closes the connections idle the longest. */
  reclaim(): void {
    // Each turn takes the first idle token out of the pool (closed, or busy again).
    for (let token = this.#idle.first; token !== undefined; token = this.#idle.first) {
      if (this.slots.waiting === 0 || !this.slots.full) return;
      if (this.#close(token)) this.counts.reclaimed++;
    }
  }

  /** How many idle connections speak each protocol: walks the pool (for metrics). */
  idleByProtocol(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (let token = this.#idle.first; token !== undefined; token = token.next) counts[token.protocol] = (counts[token.protocol] ?? 0) + 1;
    return counts;
  }

  #withdraws(token: SlotToken): boolean {
    return this.#withdrawnAny && this.#withdrawn.has(token.owner);
  }

  /**
   * Takes `token` out of the pool and retires its connection (true), unless bytes arrived since it went
   * idle and its protocol has no graceful retirement: a request is on its way, so it is busy, not idle.
   */
  #close(token: SlotToken): boolean {
    this.#idle.remove(token);
    if (!token.graceful && token.socket.bytesRead !== token.readAtIdle) return false;
    retire(token);
    return true;
  }

  /**
   * Every `ms` while withdrawn owners' connections are idle: closes those idle at the previous
   * sweep that have read nothing since, so each is closed only once unused for a whole period.
   */
  #sweepIdle(ms = this.idleGraceMs): void {
    this.#sweep ??= this.scheduler.schedule(() => {
      this.#sweep = undefined;
      const next = new Map<SlotToken, number>();
      for (const token of this.#idleOf((owner) => this.#withdrawn.has(owner))) {
        if (this.#swept.get(token) === token.readAtIdle) this.#close(token);
        else next.set(token, token.readAtIdle);
      }
      this.#swept = next;
      if (next.size > 0) this.#sweepIdle(ms);
    }, ms);
  }

  /** The idle connections of the owners `owns` says, as an array: closing them changes the pool. */
  #idleOf(owns: (owner: object) => boolean): SlotToken[] {
    return this.#idle.toArray().filter((token) => owns(token.owner));
  }
}

/** Releases a connection's slot and retires it: in its protocol's way, else by `socket.destroySoon()` (flushing what was written). */
function retire(token: SlotToken): void {
  token.release();
  if (token.retire !== undefined) token.retire();
  else token.socket.destroySoon();
}
