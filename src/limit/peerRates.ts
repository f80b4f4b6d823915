/** A token bucket: tokens left, and when it was last filled. */
class Bucket {
  constructor(
    public tokens: number,
    public at: number,
  ) {}
}

/**
 * New connections per second per remote address, as token buckets (Envoy's
 * `local_ratelimit` with one token per connection, HAProxy's `sc_conn_rate`): each address
 * may open `burst` connections at once and `rate` a second after that. Checked when the
 * connection is accepted, before a byte of it is read.
 *
 * Memory is bounded whatever the number of distinct addresses: a bucket that has filled up
 * again says no more than no bucket at all, so those are forgotten first; and at most
 * `maxAddresses` buckets are kept. When that many addresses have all opened connections within
 * the time it takes a bucket to fill (`burst / rate` seconds), the oldest are forgotten: each
 * such address starts again with a full bucket, so a flood from more addresses than that is
 * limited per address less strictly, never with more memory.
 */
export class PeerRates {
  readonly #buckets = new Map<string, Bucket>();
  // Tokens per ms.
  readonly #perMs: number;

  /**
   * @param rate New connections per second, after the burst.
   * @param burst New connections at once.
   * @param maxAddresses The most addresses remembered.
   * @param now The clock, in ms.
   */
  constructor(
    readonly rate: number,
    readonly burst: number,
    readonly maxAddresses: number,
    private readonly now: () => number,
  ) {
    this.#perMs = rate / 1000;
  }

  /** Addresses remembered now. */
  get size(): number {
    return this.#buckets.size;
  }

  /**
   * Takes a token for a new connection from `address`.
   *
   * @returns Whether it had one: false means the address is over its rate.
   */
  take(address: string): boolean {
    const now = this.now();
    const bucket = this.#buckets.get(address);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.maxAddresses) this.#forget(now);
      this.#buckets.set(address, new Bucket(this.burst - 1, now));
      return true;
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.at) * this.#perMs);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Makes room: forgets every full bucket, or, if none is, the oldest tenth. */
  #forget(now: number): void {
    for (const [address, bucket] of this.#buckets) {
      if (bucket.tokens + (now - bucket.at) * this.#perMs >= this.burst) this.#buckets.delete(address);
    }
    if (this.#buckets.size < this.maxAddresses) return;
    let excess = Math.max(1, Math.floor(this.maxAddresses / 10));
    for (const address of this.#buckets.keys()) {
      this.#buckets.delete(address);
      if (--excess === 0) break;
    }
  }
}
