import type { Counts } from './counts';
import type { SlotToken } from './token';

/**
 * Whether an admitted connection may begin a new exchange (an HTTP request) now, or should be
 * answered at once that the server is overloaded (`503` with `Retry-After`): the limiter's
 * decisions per request, where its other decisions are per connection.
 *
 * Two bounds, both off until set:
 * - **Exchanges in flight** (`limit`, learned from CPU by {@link overload!targetLimit}): requests begun
 *   and not yet answered ({@link index!Limiter.inFlight}). Idle keep-alive connections cost the
 *   event loop nothing and do not count: a limit learned from CPU that counted them would close
 *   them under their clients' next requests.
 * - **Time in the current turn** (`waitMs`): the event loop handles every request that is
 *   ready when it polls in one turn, one after another; a request handled `waitMs` after the
 *   turn's first one has been ready at least that long, and so has every one behind it. Past
 *   that, the rest of the turn is answered `503` (about a tenth of a millisecond each instead
 *   of a handler's run), so the next turn comes soon and its requests have waited little: the
 *   served ones wait at most about two turns of `waitMs`, however many keep-alive clients
 *   send at once. A CPU-bound server's queue is its ready sockets; this is CoDel's rule on it.
 */
export class ExchangeGate {
  /** The most exchanges in flight; `Infinity`: no bound. */
  limit = Infinity;
  /** How long into a turn new exchanges still begin, ms; `Infinity`: no bound. */
  waitMs = Infinity;
  /** Connections with an exchange begun ({@link index!Token.busy}) and not ended: what `limit` bounds. */
  inFlight = 0;
  // When the current turn's first request was judged (scheduler time); -1 between turns.
  #turnStart = -1;
  readonly #endTurn = (): void => {
    this.#turnStart = -1;
  };

  /**
   * @param now The clock, ms.
   * @param counts Where exchanges completed and refused are counted.
   * @param afterTurn Runs a function once the loop's current turn has handled what was ready
   *   (`setImmediate`, the check phase); tests pass their own.
   */
  constructor(
    private readonly now: () => number,
    private readonly counts: Pick<Counts, 'completed' | 'shedRequests'>,
    private readonly afterTurn: (end: () => void) => void = setImmediate,
  ) {}

  /**
   * Judges a new exchange on `token`'s connection ({@link index!Token.tryBusy}); one refused is
   * counted in `shedRequests`.
   *
   * @returns Whether it may begin.
   */
  admitsOn(token: SlotToken): boolean {
    if (this.admits(this.inFlight - (token.exchanges > 0 ? 1 : 0))) return true;
    this.counts.shedRequests++;
    return false;
  }

  /** `token`'s exchanges have ended (it went idle, or was released): completed, none in flight. */
  ended(token: SlotToken): void {
    if (!token.isIdle) this.counts.completed++; // ended during an exchange (or fresh)
    if (token.exchanges > 0) this.inFlight--;
  }

  /**
   * Judges one new exchange.
   *
   * @param others Exchanges in flight besides this one.
   * @returns Whether it may begin.
   */
  admits(others: number): boolean {
    if (others >= this.limit) return false;
    if (this.waitMs === Infinity) return true;
    const now = this.now();
    if (this.#turnStart < 0) {
      // The turn's first request: its turn ends when the loop reaches its check phase
      // (setImmediate), after every ready socket of this poll has been handled.
      this.#turnStart = now;
      this.afterTurn(this.#endTurn);
      return true;
    }
    return now - this.#turnStart <= this.waitMs;
  }
}
