import type { Socket } from 'node:net';

/**
 * Empties a listening socket's accept queue before it closes for a pause, so that the close
 * resets no client.
 *
 * Closing a listening socket resets every connection in its kernel accept queue: those clients
 * have connected and sent their request, and cannot tell whether it was done (a POST cannot be
 * retried safely). Node takes one connection from that queue per event-loop turn (measured), so
 * while draining, each turn's connection is handed to `refuse` (HTTP: a `503` with
 * `Retry-After`, a few tens of µs, nothing read) instead of the pipeline, and the socket closes
 * at the first turn that took none: the queue was empty when the loop polled, and the close
 * follows within the same turn. Clients that come after are refused by the kernel
 * (ECONNREFUSED, before they send anything): every refusal is unambiguous.
 */
export class QueueDrain {
  #draining = false;
  #tookOne = false;
  // A check is scheduled for the end of this turn (one at a time: a drain cancelled and begun
  // again within a turn must not judge a turn twice).
  #checking = false;
  #refused = 0;

  /**
   * @param refuse Answers a connection taken while draining. One that throws: the socket is destroyed.
   * @param close Closes the listening socket, once the queue is empty.
   * @param afterTurn Runs a function in the loop's check phase (`setImmediate`); tests pass their own.
   */
  constructor(
    private readonly refuse: (socket: Socket) => void,
    private readonly close: () => void,
    private readonly afterTurn: (check: () => void) => void = setImmediate,
  ) {}

  /** Whether the queue is being drained: connections go to `refuse`. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Connections answered by `refuse` so far. */
  get refused(): number {
    return this.#refused;
  }

  /** Begins draining; the socket closes once a turn takes no connection. */
  start(): void {
    if (this.#draining) return;
    this.#draining = true;
    // The turn under way may be past its poll: judge from the next whole turn on.
    this.#tookOne = true;
    if (!this.#checking) {
      this.#checking = true;
      this.afterTurn(this.#check);
    }
  }

  /** Stops draining without closing (the pause was released first). */
  cancel(): void {
    this.#draining = false;
  }

  /** A connection accepted while draining: refused. */
  take(socket: Socket): void {
    this.#tookOne = true;
    this.#refused++;
    try {
      this.refuse(socket);
    } catch {
      socket.destroy();
    }
  }

  readonly #check = (): void => {
    this.#checking = false;
    if (!this.#draining) return;
    if (this.#tookOne) {
      this.#checking = true;
      this.#tookOne = false;
      return this.afterTurn(this.#check);
    }
    this.#draining = false;
    this.close();
  };
}
