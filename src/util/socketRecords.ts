import type { Socket } from 'node:net';

/** A socket as seen by {@link SocketRecords}: it may carry records under symbols. */
type Carrier = Socket & Record<symbol, unknown>;

/**
 * One kind of record that rides on sockets (a connection's token, its place in a queue, its
 * entry in a list), at most one per socket, stored under a symbol of its own and told of the
 * socket's events through one listener per event shared by every socket.
 *
 * Why not a closure per socket: a listener is held by the socket's `_events` object, and once
 * V8 allocates those objects in the old generation (Node 26 pretenures that literal of the
 * Duplex constructor), a dead one keeps a young closure, and the connection it reaches, alive
 * through young-generation collections until the next full one (bench/RESULTS.md section 11).
 * A shared listener reaches nothing young; the record is found on the socket.
 */
export class SocketRecords<R extends object> {
  /** Where the record is stored: public for the hot paths that read it on every request. */
  readonly key: symbol;
  // The events and their shared listeners, side by side: attach runs once per connection.
  readonly #events: readonly string[];
  readonly #listeners: ReadonlyArray<(this: Carrier) => void>;

  /**
   * @param name For the symbol's description.
   * @param on What to do with a socket's record on each of its events (called only while the
   *   socket carries one).
   */
  constructor(name: string, on: Readonly<Record<string, (record: R) => void>>) {
    const key = Symbol(`rxjs-listen ${name}`);
    this.key = key;
    this.#events = Object.keys(on);
    this.#listeners = Object.values(on).map(
      (handle) =>
        function (this: Carrier): void {
          const record = this[key] as R | undefined;
          if (record !== undefined) handle(record);
        },
    );
  }

  /** The record `socket` carries, if any. */
  get(socket: Socket): R | undefined {
    return (socket as Carrier)[this.key] as R | undefined;
  }

  /**
   * Puts `record` on `socket`. The shared listeners are added when the socket carries no
   * record of this kind; one that does (a record that has served, like a released token) has
   * them already and only gets the new record: check {@link SocketRecords.get} first where
   * a record still in use must not be replaced.
   */
  attach(socket: Socket, record: R): void {
    const carrier = socket as Carrier;
    const bare = carrier[this.key] === undefined;
    carrier[this.key] = record;
    if (bare) for (let i = 0; i < this.#events.length; i++) socket.on(this.#events[i]!, this.#listeners[i]!);
  }

  /** Takes the record and the shared listeners off `socket`, leaving it as it was found. */
  detach(socket: Socket): void {
    const carrier = socket as Carrier;
    if (carrier[this.key] === undefined) return;
    carrier[this.key] = undefined;
    for (let i = 0; i < this.#events.length; i++) socket.off(this.#events[i]!, this.#listeners[i]!);
  }
}
