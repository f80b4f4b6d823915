import type { Socket } from 'node:net';
import { Arrivals } from './arrivals';

// How long a look at the accept queue lasts, ms (see judge), at most once in LOOK_EVERY_MS:
// a lone balancer in front pays 3% of its connections at most.
const LOOK_MS = 30;
const LOOK_EVERY_MS = 1000;
// How long a verdict stands, ms: the monitors read at every loop turn that accepts, and counting
// the arrivals costs ~11 us (3% of the loop under a retry storm, profiled: bench/RESULTS.md 20).
const JUDGE_MS = 5;

/** Which addresses a {@link index!Limiter} refuses under overload ({@link index!Limiter.shedHeaviest}). */
export class Shedding {
  // Only while someone watches: reading a socket's address costs a system call.
  #arrivals: Arrivals | undefined;
  #watchers = 0;
  // The addresses refused until stop(); for a look, until #lookUntil (0: not a look), begun at #lookedAt.
  #shed: ReadonlySet<string> | undefined;
  #lookUntil = 0;
  #lookedAt = -Infinity;
  // The last verdict, given at #judgedAt: repeated within JUDGE_MS.
  #verdict: readonly string[] = [];
  #judgedAt = -Infinity;
  // The refused addresses with a connection admitted all the same, until it closes: one each at a time.
  readonly #serving = new Set<string>();

  /** @param now The clock, ms. */
  constructor(private readonly now: () => number) {}

  /** Whether arrivals are recorded: then every connection's address is passed to {@link refuses}. */
  get watching(): boolean {
    return this.#arrivals !== undefined;
  }

  /** Records arrivals until the returned function is called (by every caller that watches). */
  watch(): () => void {
    this.#arrivals ??= new Arrivals(this.now);
    this.#watchers++;
    let watching = true;
    return () => {
      if (!watching) return;
      watching = false;
      if (--this.#watchers > 0) return;
      this.#arrivals = undefined;
      this.stop();
    };
  }

  /** Records a connection answered before the limiter saw it (a pause's flush refused it): it arrived all the same. Only while watching. */
  record(socket: Socket): void {
    this.#arrivals?.record(socket.remoteAddress ?? '');
  }

  /**
   * Records a connection and says whether it is refused. Only while watching. A refused address keeps
   * one connection admitted at a time (outside a look): refusing it whole left the loop answering
   * `503`s to a flood that came straight back (a tenth of capacity served: bench/RESULTS.md 19), where
   * one in service is served about one turn in a few, and everyone else still waits behind turns
   * that mostly cost a refusal.
   */
  refuses(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '';
    this.#arrivals!.record(address);
    if (this.#shed === undefined || !this.#shed.has(address)) return false;
    if (this.#lookUntil !== 0) return this.now() < this.#lookUntil;
    if (this.#serving.has(address)) return true;
    this.#serving.add(address);
    socket.once('close', () => this.#serving.delete(address));
    return false;
  }

  /**
   * Judges again which addresses to refuse until {@link stop}: the heaviest, or a single address seen
   * for a 30 ms look (calls within it say the same). None: refuse everyone (pause). Why a look: a pause
   * refuses in the kernel, so a client queued behind a flood would never be seen; the look admits it.
   */
  judge(): readonly string[] {
    const now = this.now();
    if (now - this.#judgedAt < JUDGE_MS) return this.#verdict;
    this.#judgedAt = now;
    this.#verdict = this.#judge(now);
    return this.#verdict;
  }

  #judge(now: number): readonly string[] {
    let heavy = this.#arrivals?.heaviest() ?? [];
    if (heavy.length === 0 && now < this.#lookUntil) return [...this.#shed!]; // the look goes on
    this.#lookUntil = 0;
    if (heavy.length === 0 && now - this.#lookedAt >= LOOK_EVERY_MS) {
      const alone = this.#arrivals?.alone();
      if (alone !== undefined) {
        this.#lookedAt = now;
        this.#lookUntil = now + LOOK_MS;
        heavy = [alone];
      }
    }
    this.#shed = heavy.length === 0 ? undefined : new Set(heavy);
    return heavy;
  }

  /** Refuses no one any more: the overload is over. */
  stop(): void {
    this.#shed = undefined;
    this.#lookUntil = 0;
    this.#judgedAt = -Infinity;
  }
}
