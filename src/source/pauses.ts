import type { PauseTotal } from '../errors/result';

/**
 * The reasons holding a listener paused, so that independent operators can pause it: `onFirst`
 * stops accepting, `onLast` starts it again. Counts each reason's holds and their time, for
 * metrics: a pause shorter than a scrape interval would otherwise leave no trace.
 */
export class Pauses {
  readonly #held = new Set<{ reason: string; since: number }>();
  // Per reason: holds begun, and the time of those that ended (ms).
  readonly #totals = new Map<string, PauseTotal>();

  constructor(
    private readonly onFirst: () => void,
    private readonly onLast: () => void,
  ) {}

  /** @returns The function that releases this reason; calling it twice releases it once. */
  hold(reason: string): () => void {
    const hold = { reason, since: performance.now() };
    const total = this.#totals.get(reason) ?? { count: 0, ms: 0 };
    total.count++;
    this.#totals.set(reason, total);
    this.#held.add(hold);
    if (this.#held.size === 1) this.onFirst();
    return () => {
      if (!this.#held.delete(hold)) return;
      total.ms += performance.now() - hold.since;
      if (this.#held.size === 0) this.onLast();
    };
  }

  get paused(): boolean {
    return this.#held.size > 0;
  }

  get reasons(): string[] {
    return [...this.#held].map((hold) => hold.reason);
  }

  /** Per reason ever held: how many times, and for how long in all, holds under way counted up to now. */
  totals(): ReadonlyMap<string, Readonly<PauseTotal>> {
    const totals = new Map([...this.#totals].map(([reason, { count, ms }]) => [reason, { count, ms }]));
    const now = performance.now();
    for (const { reason, since } of this.#held) totals.get(reason)!.ms += now - since;
    return totals;
  }
}
