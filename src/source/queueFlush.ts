import type { Socket } from 'node:net';
import { endSocket } from '../util/endSocket';

/** Which connections a flush keeps for the pipeline instead of refusing them (see `WatchOptions.keepNewest`). */
export interface Keep {
  /** How many of the newest connections taken while flushing to keep: read once, as a flush begins. */
  count(): number;
  /**
   * Hands the kept connections on, oldest first, when the flush ends.
   *
   * @param sockets The kept connections.
   * @param closed Whether the listening socket closed (else the pause was released first).
   */
  pass(sockets: readonly Socket[], closed: boolean): void;
}

/**
 * Empties a listening socket's accept queue before it closes for a pause, so that the close
 * resets no client.
 *
 * Closing a listening socket resets every connection in its kernel accept queue: those clients
 * have connected and sent their request, and cannot tell whether it was done (a POST cannot be
 * retried safely). Node takes one connection from that queue per event-loop turn (measured), so
 * while flushing, each turn's connection is taken from the pipeline, and the socket closes at
 * the first turn that took none: the queue was empty when the loop polled, and the close
 * follows within the same turn. Then the connections taken are handed to `refuse` (HTTP: a
 * `503` with `Retry-After`, a few tens of µs, nothing read), oldest first: answered only once
 * the listener is closed, a client that retries at once is refused by the kernel instead of
 * queueing again behind the ones still to be answered (a retry storm kept a queue answered
 * this way from ever emptying: RESULTS 17). Clients that come after are refused by the kernel
 * (ECONNREFUSED, before they send anything): every refusal is unambiguous.
 *
 * With `keep`, the newest connections taken go on to the pipeline instead, once the flush ends:
 * the process has that much work while its listener is closed, and the ones that waited least
 * in the queue are the ones served.
 */
export class QueueFlush {
  #flushing = false;
  #tookOne = false;
  // A check is scheduled for the end of this turn (one at a time: a flush cancelled and begun
  // again within a turn must not judge a turn twice).
  #checking = false;
  #refused = 0;
  // Connections taken to be refused, answered when the flush ends.
  #refusing: Socket[] = [];
  // The newest connections taken while flushing, kept for the pipeline (with `keep`).
  #kept: Socket[] = [];
  #keep = 0;

  /**
   * @param refuse Answers a connection taken while flushing. One that throws: the socket is destroyed.
   * @param close Closes the listening socket, once the queue is empty.
   * @param afterTurn Runs a function in the loop's check phase (`setImmediate`); tests pass their own.
   */
  constructor(
    private readonly refuse: (socket: Socket) => void,
    private readonly close: () => void,
    private readonly afterTurn: (check: () => void) => void = setImmediate,
    private readonly keep?: Keep,
  ) {}

  /** Whether the queue is being flushed: connections go to `refuse`. */
  get flushing(): boolean {
    return this.#flushing;
  }

  /** Connections answered by `refuse` so far. */
  get refused(): number {
    return this.#refused;
  }

  /** Begins flushing; the socket closes once a turn takes no connection. */
  start(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    this.#keep = this.keep?.count() ?? 0;
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

  /** A connection accepted while flushing: kept if it is among the newest `keep.count()`, else refused when the flush ends (the oldest kept, when it pushes one out). */
  take(socket: Socket): void {
    this.#tookOne = true;
    if (this.#keep > 0) {
      this.#kept.push(socket);
      if (this.#kept.length <= this.#keep) return;
      socket = this.#kept.shift()!;
    }
    this.#refused++;
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
    if (this.#kept.length === 0) return;
    const kept = this.#kept;
    this.#kept = [];
    this.keep!.pass(kept, closed);
  }
}
