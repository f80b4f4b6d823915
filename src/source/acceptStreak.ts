import { performance } from 'node:perf_hooks';
import { Subject } from 'rxjs';

/**
 * How long the process's listeners have found a connection waiting in the kernel's accept
 * queue at every event-loop turn, without a break: what {@link overload!acceptQueueMs} reads.
 *
 * Node takes one connection from a listening socket per turn (measured), so a turn that takes
 * none found the queue empty when the loop polled. A streak of turns that each took one began
 * when the queue last was empty: the connection taken now arrived after that, and has waited at
 * most the streak's length; the longer the streak, the longer the queue's oldest have waited.
 * Unlike the event loop's busy time, it does not grow while the loop works on requests over
 * connections it already holds (keep-alive), where no new client waits.
 *
 * Kept only while watched ({@link overload!acceptQueueMs} subscribed, a listener with `keepNewest`): then
 * it costs a flag per connection and one `setImmediate` per turn that took one (and, while
 * {@link overload!acceptQueueMs} is subscribed, a reading emitted there); else one comparison.
 */
class AcceptStreak {
  /** The streak's length at the end of every turn that took a connection (only while observed). */
  readonly turns = new Subject<number>();
  // Who reads the streak: it is kept only while someone does (nothing on the accept path else).
  #watchers = 0;
  // When the streak began (performance.now()), -1 while there is none.
  #since = -1;
  // Connections taken since the streak began.
  #taken = 0;
  #took = false;
  #checking = false;

  /**
   * Keeps the streak from now on, until the returned function is called (once per caller).
   *
   * @returns The function that ends this caller's watch.
   */
  watch(): () => void {
    this.#watchers++;
    let watching = true;
    return () => {
      if (watching) this.#watchers--;
      watching = false;
    };
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

  /**
   * The streak's pace: ms per connection taken, which is the loop's time per turn while the
   * queue held one at every turn; `undefined` with fewer than two taken.
   */
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
