import type { Socket } from 'node:net';
import { endSocket } from '../util/endSocket';

/**
 * The connections a pause kept and handed on once the listening socket closed, each with the time
 * (scheduler ms) until which the limiter admits its first request whatever the turn (`ExchangeGate`):
 * the batch was sized by the loop's own pace to be served in that time, and shedding it wasted it;
 * what it cannot serve by then (the pace misjudged the work) is judged as any other (RESULTS 19).
 */
export const keptBatch = new WeakMap<Socket, number>();

/** Which connections a flush keeps for the pipeline instead of refusing them (see `WatchOptions.keepNewest`). */
export interface Keep {
  /** How many of the newest connections taken while flushing to keep: read once, as a flush begins. */
  count(): number;
  /** Hands the kept connections on, oldest first, when the flush ends; `closed`: the listening socket closed (else the pause was released first). */
  pass(sockets: readonly Socket[], closed: boolean): void;
}

/**
 * Empties a listening socket's accept queue before it closes for a pause, which would reset the
 * clients queued. Node takes one connection per loop turn (measured): the socket closes at the
 * first turn that took none. The first `atOnce` connections refused are answered as they are taken
 * (the queue is first in, first out: they waited longest); the rest only once the socket is closed
 * (all answered while open, a retry storm kept the queue from ever emptying: RESULTS 17). With
 * `keep`, the newest go downstream instead.
 */
export class QueueFlush {
  // Connections refused by every flush in the process (the accept loop's policy reads it, as the accept streak is the process's).
  static #refusedInProcess = 0;
  #flushing = false;
  #tookOne = false;
  // A check is scheduled (one at a time: a flush cancelled and begun again must not judge a turn twice).
  #checking = false;
  #refused = 0;
  // Answered as taken in this flush (at most `atOnce`).
  #answered = 0;
  // Connections taken: to be refused when the flush ends, and the newest kept for the pipeline (at most #keep).
  readonly #refusing: Socket[] = [];
  readonly #kept: Socket[] = [];
  #keep = 0;

  // `refuse` throwing destroys the socket; `afterTurn` runs a function in the loop's check phase (tests pass their own).
  constructor(
    private readonly refuse: (socket: Socket) => void,
    private readonly close: () => void,
    private readonly afterTurn: (check: () => void) => void = setImmediate,
    private readonly keep?: Keep,
    private readonly atOnce = 0,
  ) {}

  /** Whether the queue is being flushed: connections go to `take`. */
  get flushing(): boolean {
    return this.#flushing;
  }

  /** Connections answered by `refuse` so far. */
  get refused(): number {
    return this.#refused;
  }

  /** Connections refused so far by the flushes of every listener in the process. */
  static get refusedInProcess(): number {
    return QueueFlush.#refusedInProcess;
  }

  /** Begins flushing; the socket closes once a turn takes no connection. */
  start(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    this.#keep = this.keep?.count() ?? 0;
    this.#answered = 0;
    // The turn under way may be past its poll: judge from the next whole turn on.
    this.#tookOne = true;
    if (!this.#checking) {
      this.#checking = true;
      this.afterTurn(this.#check);
    }
  }

  /** Stops flushing without closing (the pause was released first): the connections taken are refused, what was kept is handed on. */
  cancel(): void {
    if (!this.#flushing) return;
    this.#flushing = false;
    this.#refuseTaken();
    this.#passKept(false);
  }

  /** Ends for good (the listener's subscriber is gone): nothing more closes, the connections taken are refused, kept ones destroyed. */
  abandon(): void {
    this.#flushing = false;
    this.#refuseTaken();
    for (const socket of this.#kept.splice(0)) socket.destroy();
  }

  /** A connection accepted while flushing: kept if among the newest `keep.count()` (pushing the oldest kept out), else refused (at once, or when the flush ends). */
  take(socket: Socket): void {
    this.#tookOne = true;
    if (this.#keep > 0) {
      this.#kept.push(socket);
      if (this.#kept.length <= this.#keep) return;
      socket = this.#kept.shift()!;
    }
    this.#refused++;
    QueueFlush.#refusedInProcess++;
    if (this.#answered < this.atOnce) {
      this.#answered++;
      return endSocket(this.refuse, socket);
    }
    this.#refusing.push(socket);
  }

  readonly #check = (): void => {
    this.#checking = false;
    if (!this.#flushing) return;
    if (this.#tookOne) {
      this.#checking = true;
      this.#tookOne = false;
      return this.afterTurn(this.#check);
    }
    this.#flushing = false;
    this.close();
    this.#refuseTaken();
    this.#passKept(true);
  };

  #refuseTaken(): void {
    for (const socket of this.#refusing.splice(0)) endSocket(this.refuse, socket);
  }

  #passKept(closed: boolean): void {
    if (this.#kept.length > 0) this.keep!.pass(this.#kept.splice(0), closed);
  }
}
