import type { Server } from 'node:net';
import { filter, Subject, take, type Observable, type SchedulerLike, type Subscription } from 'rxjs';
import { onConnectionClosed } from './connectionCloses';
import { openFileCount, openFilesEvery } from './fileLimit';

/**
 * How often, at most, a listener paused on file shortage counts its open descriptors again
 * where Node does not tell it of its connections' closes (it does on Node 20 to 26: there it
 * counts after closes instead), so that accepting resumes soon after the shortage ends. Where
 * counting costs about 1 µs per open descriptor (before Linux 6.2), the period grows to
 * `open / 10` ms: polling stays near 1% of a core.
 */
const RELIEF_POLL_MS = 25;

/**
 * How long, at most, between two such counts while the count does not move (connections held
 * open, as by keep-alive clients): each count wakes a paused process, and a flood can hold it
 * paused for as long as it lasts. A change brings the period back to {@link RELIEF_POLL_MS}.
 */
const RELIEF_STEADY_MS = 100;

/**
 * Tells a listener paused on file shortage when enough descriptors are free again. What frees
 * descriptors in a flood is the server's own connections closing: the count is taken once
 * after each burst of closes (one scheduled count), and only while a pause waits for it.
 * Counts taken elsewhere (the listener's periodic check, for files and outgoing sockets) are
 * {@link ReliefCounter.tell}ed to it too. Polling every 25-100 ms instead cost a paused
 * process about 0.3% of a core in wakeups (bench/RESULTS.md section 12); it remains where Node
 * has no hook for closes.
 */
export class ReliefCounter {
  // Each count goes to the pauses waiting when it came (a Subject's snapshot): a pause that
  // ends on it, resumes, fails and waits again waits for the next one.
  readonly #counted = new Subject<number>();
  #scheduled: Subscription | undefined;
  readonly #unhook: (() => void) | undefined;

  /**
   * Emits once, when the count is below `below`: what a shortage's `relieved` is. Cold: it
   * counts only while subscribed.
   */
  readonly relieved: Observable<unknown>;

  /**
   * @param server Whose connections' closes to count after.
   * @param below The count under which the shortage is over.
   * @param scheduler Where counts are scheduled.
   */
  constructor(server: Server, below: number, scheduler: SchedulerLike) {
    const countAfterCloses = (): void => {
      this.#scheduled = undefined;
      this.#counted.next(openFileCount());
    };
    this.#unhook = onConnectionClosed(server, () => {
      if (this.#counted.observed && this.#scheduled === undefined) this.#scheduled = scheduler.schedule(countAfterCloses);
    });
    const counts = this.#unhook === undefined ? openFilesEvery(RELIEF_POLL_MS, 0.01, scheduler, RELIEF_STEADY_MS) : this.#counted;
    this.relieved = counts.pipe(
      filter((open) => open < below),
      take(1),
    );
  }

  /** A count taken elsewhere: the waiting pauses hear it too. */
  tell(open: number): void {
    this.#counted.next(open);
  }

  /** Stops counting after closes. */
  stop(): void {
    this.#unhook?.();
    this.#scheduled?.unsubscribe();
  }
}
