import { acceptStreak } from '../source/acceptStreak';
import { keptBatch } from '../source/queueFlush';
import type { Counts } from './counts';
import type { SlotToken } from './token';

/**
 * Whether an admitted connection may begin a new exchange (an HTTP request) now, or should be answered
 * at once that the server is overloaded: the limiter's decisions per request. Two bounds, off until set:
 * - `limit`, on exchanges in flight. Idle keep-alive connections do not count: a limit learned from
 *   CPU ({@link overload!targetLimit}) that counted them would close them under their next requests.
 * - `waitMs`, into the loop's current turn: the loop handles every request ready when it polls in one
 *   turn, so one handled `waitMs` after the turn's first has waited that long, and so has every one
 *   behind it. The rest of the turn is answered `503` (cheap), so the next turn comes soon: CoDel's rule.
 *   While the kernel's accept queue has held clients longer than `waitMs`, turns are cut to a sixth of it.
 */
export class ExchangeGate {
  /** The most exchanges in flight; `Infinity`: no bound. */
  limit = Infinity;
  /** How long into a turn new exchanges still begin, ms; `Infinity`: no bound. */
  waitMs = Infinity;
  /** Connections with an exchange begun and not ended: what `limit` bounds. */
  inFlight = 0;
  // When the current turn's first request was judged (scheduler time); -1 between turns.
  #turnStart = -1;
  readonly #endTurn = (): void => {
    this.#turnStart = -1;
  };

  /**
   * @param afterTurn Runs a function once the loop's current turn has handled what was ready (the check phase).
   * @param queuedMs How long the kernel's accept queue has held a connection at every turn, ms (`acceptStreak`).
   */
  constructor(
    private readonly now: () => number,
    private readonly counts: Pick<Counts, 'completed' | 'shedRequests'>,
    private readonly afterTurn: (end: () => void) => void = setImmediate,
    private readonly queuedMs: () => number = () => acceptStreak.ms(),
  ) {}

  /**
   * Whether a new exchange may begin on `token`'s connection ({@link index!Token.tryBusy}); one refused is counted.
   * The first request of a connection a pause kept ({@link keptBatch}) is admitted whatever the bounds, until its batch's time is up.
   */
  admitsOn(token: SlotToken): boolean {
    if (this.admits(this.inFlight - (token.exchanges > 0 ? 1 : 0))) return true;
    const until = token.exchanges === 0 ? keptBatch.get(token.socket) : undefined;
    if (until !== undefined) {
      keptBatch.delete(token.socket); // its first request only
      if (this.now() <= until) return true;
    }
    this.counts.shedRequests++;
    return false;
  }

  /** `token`'s exchanges have ended (it went idle, or was released): completed, none in flight. */
  ended(token: SlotToken): void {
    if (token.exchanges >= 0) this.counts.completed++; // ended during an exchange (or fresh), not idle
    if (token.exchanges > 0) this.inFlight--;
  }

  /** Whether a new exchange may begin, `others` in flight besides it. */
  admits(others: number): boolean {
    if (others >= this.limit) return false;
    if (this.waitMs === Infinity) return true;
    const now = this.now();
    if (this.#turnStart < 0) {
      // The turn's first request: the turn ends in the check phase, once every ready socket of this poll is handled.
      this.#turnStart = now;
      this.afterTurn(this.#endTurn);
      return true;
    }
    // While clients have waited in the kernel's accept queue longer than waitMs, a turn begins new
    // exchanges for a sixth of it only: Node takes one connection a turn, so long turns leave each
    // queued client (a pool's connections opened at once) waiting a whole turn (bench/RESULTS.md 18).
    const budget = this.queuedMs() > this.waitMs ? this.waitMs / 6 : this.waitMs;
    return now - this.#turnStart <= budget;
  }
}
