/** A token bucket: tokens left, and when it was last filled. */
class Bucket {
  constructor(
    public tokens: number,
    public at: number,
  ) {}
}

/**
 * New connections per second per remote address, as token buckets (HAProxy's `sc_conn_rate`):
 * `burst` at once, `rate` a second after that. At most `maxAddresses` buckets: full ones (no more
 * telling than none) are forgotten first, then the oldest, which start again full: a flood from
 * more addresses is limited less strictly, never with more memory.
 */
export class PeerRates {
  readonly #buckets = new Map<string, Bucket>();
  // Tokens per ms.
  readonly #perMs: number;

  constructor(
    rate: number,
    private readonly burst: number,
    private readonly maxAddresses: number,
    private readonly now: () => number,
  ) {
    this.#perMs = rate / 1000;
  }

  /** Addresses remembered now. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes a token for a new connection from `address`: false when it is over its rate. */
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
