/**
 * Live (and waiting) connections per remote address, against a per-address maximum (nginx's
 * `limit_conn`). An address is forgotten with its last connection, so what this holds grows
 * with the connections alive now, never with the addresses ever seen.
 */
export class PeerCounts {
  readonly #counts = new Map<string, number>();

  /** @param max The most connections one address may hold, an integer >= 1. */
  constructor(readonly max: number) {}

  /** Counts a connection from `address`, unless the address holds `max` already. @returns Whether it was counted. */
  enter(address: string): boolean {
    const live = this.#counts.get(address) ?? 0;
    if (live >= this.max) return false;
    this.#counts.set(address, live + 1);
    return true;
  }

  /** A connection counted by {@link PeerCounts.enter} has gone. */
  leave(address: string): void {
    const live = this.#counts.get(address)! - 1;
    if (live === 0) this.#counts.delete(address);
    else this.#counts.set(address, live);
  }

  /** Connections counted for `address` now. */
  of(address: string): number {
    return this.#counts.get(address) ?? 0;
  }
}
