import { LinkedList } from '../util/linkedList';
import type { SlotToken } from './token';

/**
 * Admitted connections between exchanges (HTTP keep-alive between requests), longest idle
 * first: what the limiter may close to admit a waiting connection, or to drain at shutdown.
 */
export class IdlePool {
  readonly #tokens = new LinkedList<SlotToken>();

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
   * Takes `token` out and closes its connection gracefully (`socket.destroySoon()`: what was
   * written is flushed first, an orderly close for the client), its slot released at once;
   * unless bytes arrived since it went idle: a request is on its way, so it is busy, not idle.
   *
   * @returns Whether it was closed.
   */
  close(token: SlotToken): boolean {
    this.#tokens.remove(token);
    const { socket } = token;
    if (socket.bytesRead !== token.readAtIdle) return false;
    token.release(); // the slot goes to whoever waits for it now
    socket.destroySoon();
    return true;
  }

  /** The idle connections `owner` admitted, as an array (closing them changes the pool). */
  ownedBy(owner: object): SlotToken[] {
    return this.#tokens.toArray().filter((token) => token.owner === owner);
  }
}
