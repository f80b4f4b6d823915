import type { PauseTotal } from '../errors/result';

/**
 * The reasons holding a listener paused. Accepting stops when the first reason arrives and
 * starts again only when the last one is released, so that independent operators (shortage,
 * connection limit, ...) can pause the same listener without knowing about each other. Counts
 * each reason's holds and the time they lasted, for metrics: a pause shorter than a scrape
 * interval would otherwise leave no trace.
 */
export class Pauses {
  readonly #held = new Map<object, { reason: string; since: number }>();
  // Per reason: holds begun, and the time of those that ended (ms).
  readonly #totals = new Map<string, PauseTotal>();

  /**
   * @param onFirst Called when the first reason arrives (stop accepting).
   * @param onLast Called when the last reason is released (start accepting).
   */
  constructor(
    private readonly onFirst: () => void,
    private readonly onLast: () => void,
  ) {}

  /** @returns The function that releases this reason; calling it twice releases it once. */
  hold(reason: string): () => void {
    const key = {};
    const hold = { reason, since: performance.now() };
    const total = this.#totals.get(reason) ?? { count: 0, ms: 0 };
    total.count++;
    this.#totals.set(reason, total);
    this.#held.set(key, hold);
    if (this.#held.size === 1) this.onFirst();
    return () => {
      if (!this.#held.delete(key)) return;
      total.ms += performance.now() - hold.since;
      if (this.#held.size === 0) this.onLast();
    };
  }

  get paused(): boolean {
    return this.#held.size > 0;
  }

  get reasons(): string[] {
    return [...this.#held.values()].map((hold) => hold.reason);
  }

  /** Per reason ever held: how many times, and for how long in all, holds under way counted up to now. */
  totals(): ReadonlyMap<string, Readonly<PauseTotal>> {
    const totals = new Map([...this.#totals].map(([reason, { count, ms }]) => [reason, { count, ms }]));
    const now = performance.now();
    for (const { reason, since } of this.#held.values()) totals.get(reason)!.ms += now - since;
    return totals;
  }
}
