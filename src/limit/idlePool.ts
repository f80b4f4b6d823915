import type { SchedulerLike, Subscription } from 'rxjs';
import { LinkedList } from '../util/linkedList';
import type { SlotToken } from './token';

/**
 * Admitted connections between exchanges (HTTP keep-alive between requests), longest idle
 * first: what the limiter may close to admit a waiting connection, or to drain at shutdown.
 */
export class IdlePool {
  readonly #tokens = new LinkedList<SlotToken>();
  // The sweep under way (see sweep), and each idle connection it saw, with what it had read.
  #sweep: Subscription | undefined;
  #swept = new Map<SlotToken, number>();

  /** The connection idle the longest. */
  get first(): SlotToken | undefined {
    return this.#tokens.first;
  }

  /** A connection went idle: to the back, idle the shortest, with what it had read by now. */
  add(token: SlotToken): void {
    token.readAtIdle = token.socket.bytesRead;
    this.#tokens.remove(token);
    this.#tokens.push(token);
  }

  /** A connection is busy again, or gone. */
  remove(token: SlotToken): void {
    this.#tokens.remove(token);
  }

  /**
   * Takes `token` out and retires its connection ({@link retire}), its slot released at once;
   * unless bytes arrived since it went idle and its protocol has no graceful retirement: a
   * request is on its way, so it is busy, not idle.
   *
   * @returns Whether it was retired.
   */
  close(token: SlotToken): boolean {
    this.#tokens.remove(token);
    if (!token.graceful && token.socket.bytesRead !== token.readAtIdle) return false;
    retire(token);
    return true;
  }

  /**
   * Every `ms` while connections of `owners` are idle: closes those that were idle at the
   * previous sweep and have read nothing since (`readAtIdle` unchanged, {@link close}'s own
   * check), so each is closed only once unused for a whole period. One sweep at a time; it
   * stops when none is left idle.
   */
  sweep(owners: WeakSet<object>, ms: number, scheduler: SchedulerLike): void {
    this.#sweep ??= scheduler.schedule(() => {
      this.#sweep = undefined;
      const next = new Map<SlotToken, number>();
      for (const token of this.ownedBy(owners)) {
        if (this.#swept.get(token) === token.readAtIdle) this.close(token);
        else next.set(token, token.readAtIdle);
      }
      this.#swept = next;
      if (next.size > 0) this.sweep(owners, ms, scheduler);
    }, ms);
  }

  /** How many idle connections speak each protocol: walks the pool (for metrics, not per request). */
  byProtocol(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (let token = this.#tokens.first; token !== undefined; token = token.next) counts[token.protocol] = (counts[token.protocol] ?? 0) + 1;
    return counts;
  }

  /**
   * The idle connections `owner` admitted (or, given a set, any owner in it), as an array:
   * closing them changes the pool.
   */
  ownedBy(owner: object | WeakSet<object>): SlotToken[] {
    const owns = owner instanceof WeakSet ? (token: SlotToken) => owner.has(token.owner) : (token: SlotToken) => token.owner === owner;
    return this.#tokens.toArray().filter(owns);
  }
}

/**
 * Releases a connection's slot (it goes to whoever waits for it now) and retires the
 * connection: in its protocol's way where it has one ({@link index!Token.retireWith}), else by
 * closing its socket gracefully (`socket.destroySoon()`: what was written is flushed first,
 * an orderly close for the client).
 */
export function retire(token: SlotToken): void {
  token.release();
  if (token.retire !== undefined) token.retire();
  else token.socket.destroySoon();
}
