// How many arrivals are remembered: a power of two (the ring's index is masked).
const SIZE = 512;
// Arrivals older than this, ms, say nothing about the overload of now.
const RECENT_MS = 1000;
// Addresses seen this recently, ms, count as clients to protect, even if none of theirs came in
// the last second: a paused listener refuses them in the kernel, unseen.
const SEEN_MS = 10_000;
// Fewer arrivals than this say nothing about who brings them.
const MIN_ARRIVALS = 32;
// An address stands out when it brought more than this many times an equal share (among the
// addresses seen), and at least MIN_SHARE of all (so that chance alone does not single one out).
const OVER_SHARE = 1.5;
const MIN_SHARE = 1 / 16;
// ...and only while it is still arriving: among the newest eighth of them (at least 8). The loop
// takes one connection a turn, so when an overload begins the last second is mostly who came
// before it (a warm-up, a health checker): refusing those relieves nothing (bench/RESULTS.md 19).
const LATEST_SHARE = 1 / 8;
const MIN_LATEST = 8;

/**
 * The remote addresses of the last 512 connections to arrive, and which stand out: whom shedding
 * refuses first. A ring: two stores per connection, fixed memory, the counting done only when asked.
 * It judges by arrivals, not admissions: a refused address stands out as long as it goes on connecting.
 */
export class Arrivals {
  readonly #addresses = new Array<string>(SIZE).fill('');
  readonly #times = new Float64Array(SIZE).fill(-Infinity);
  #next = 0;

  /** @param now The clock, ms. */
  constructor(private readonly now: () => number) {}

  /** One connection arrived from `address`. */
  record(address: string): void {
    this.#addresses[this.#next] = address;
    this.#times[this.#next] = this.now();
    this.#next = (this.#next + 1) & (SIZE - 1);
  }

  /**
   * The addresses that stand out among the arrivals of the last second, still arriving, when together
   * they brought more than half. None when fewer than 32 arrived; when a single address was seen (no one else to
   * protect: behind one balancer without the PROXY protocol, every connection has its address); or
   * when those that stand out brought less than half (refusing them would not end the overload).
   */
  heaviest(): string[] {
    const [seen, counts, n] = this.#count();
    if (n < MIN_ARRIVALS || seen.size < 2) return [];
    const above = Math.max((OVER_SHARE * n) / seen.size, MIN_SHARE * n);
    const latest = this.#latest(Math.max(MIN_LATEST, Math.floor(n * LATEST_SHARE)));
    const heavy: string[] = [];
    let brought = 0;
    for (const [address, count] of counts) {
      if (count <= above || !latest.has(address)) continue;
      heavy.push(address);
      brought += count;
    }
    return brought > n / 2 ? heavy : [];
  }

  /** The one address seen in the last 10 s, when it brought at least 32 connections in the last second. */
  alone(): string | undefined {
    const [seen, , n] = this.#count();
    return n >= MIN_ARRIVALS && seen.size === 1 ? [...seen][0] : undefined;
  }

  /** The addresses of the newest `count` arrivals. */
  #latest(count: number): Set<string> {
    const latest = new Set<string>();
    for (let k = 1; k <= count; k++) latest.add(this.#addresses[(this.#next - k) & (SIZE - 1)]!);
    return latest;
  }

  /** The addresses seen in the last 10 s; how many arrivals each brought in the last second, and all of them. */
  #count(): [Set<string>, Map<string, number>, number] {
    const now = this.now();
    const seen = new Set<string>();
    const counts = new Map<string, number>();
    let n = 0;
    for (let i = 0; i < SIZE; i++) {
      const at = this.#times[i]!;
      if (at < now - SEEN_MS) continue;
      const address = this.#addresses[i]!;
      seen.add(address);
      if (at < now - RECENT_MS) continue;
      counts.set(address, (counts.get(address) ?? 0) + 1);
      n++;
    }
    return [seen, counts, n];
  }
}
