import { performance } from 'node:perf_hooks';
import { Subject } from 'rxjs';

/**
 * How long the process's listeners have taken a connection at every event-loop turn, without a
 * break: what {@link overload!acceptQueueMs} reads. Node takes one connection per turn (measured),
 * so a turn that takes none found the accept queue empty, and the connection taken now has waited
 * at most the streak's length. Kept only while watched: a flag per connection, a `setImmediate` per turn.
 */
class AcceptStreak {
  /** The streak's length at the end of every turn that took a connection (only while observed). */
  readonly turns = new Subject<number>();
  #watchers = 0;
  // When the streak began (performance.now()), -1 while there is none, and the connections taken since.
  #since = -1;
  #taken = 0;
  #took = false;
  #checking = false;

  /** @returns The function that ends this caller's watch (call it once). */
  watch(): () => void {
    this.#watchers++;
    return () => void this.#watchers--;
  }

  /** A listener took a connection this turn. */
  took(): void {
    if (this.#watchers === 0) return;
    this.#took = true;
    this.#taken++;
    if (this.#since < 0) {
      this.#since = performance.now();
      this.#taken = 1;
    }
    if (!this.#checking) {
      this.#checking = true;
      setImmediate(this.#check);
    }
  }

  /** The streak's length now, ms; 0 when the last turn took no connection. */
  ms(): number {
    return this.#since < 0 ? 0 : performance.now() - this.#since;
  }

  /** The streak's pace: ms per connection taken (the loop's time per turn); `undefined` with fewer than two. */
  msPerConnection(): number | undefined {
    return this.#since < 0 || this.#taken < 2 ? undefined : (performance.now() - this.#since) / this.#taken;
  }

  // In each turn's check phase while the streak lasts: a turn that took none ends it.
  readonly #check = (): void => {
    if (this.#took) {
      this.#took = false;
      setImmediate(this.#check);
      if (this.turns.observed) this.turns.next(this.ms());
      return;
    }
    this.#checking = false;
    this.#since = -1;
  };
}

/** One per process: the event loop, and the turns it takes, are the process's. */
export const acceptStreak = new AcceptStreak();
