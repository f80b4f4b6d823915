/**
 * The reasons holding a listener paused. Accepting stops when the first reason arrives and
 * starts again only when the last one is released, so that independent operators (shortage,
 * connection limit, ...) can pause the same listener without knowing about each other.
 */
export class Pauses {
  readonly #held = new Map<object, string>();

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
    this.#held.set(key, reason);
    if (this.#held.size === 1) this.onFirst();
    return () => {
      if (this.#held.delete(key) && this.#held.size === 0) this.onLast();
    };
  }

  get paused(): boolean {
    return this.#held.size > 0;
  }

  get reasons(): string[] {
    return [...this.#held.values()];
  }
}
