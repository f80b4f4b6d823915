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
  // The record's read and write under `key`, as code of this kind's own (see `accessors`).
  readonly #read: (socket: Carrier) => R | undefined;
  readonly #write: (socket: Carrier, record: R | undefined) => void;

  /**
   * @param name For the symbol's description.
   * @param on What to do with a socket's record on each of its events (called only while the
   *   socket carries one).
   */
  constructor(name: string, on: Readonly<Record<string, (record: R) => void>>) {
    const key = Symbol(`rxjs-listen ${name}`);
    this.key = key;
    const { read, write } = accessors<R>(key);
    this.#read = read;
    this.#write = write;
    this.#events = Object.keys(on);
    this.#listeners = Object.values(on).map(
      (handle) =>
        function (this: Carrier): void {
          const record = read(this);
          if (record !== undefined) handle(record);
        },
    );
  }

  /** The record `socket` carries, if any. */
  get(socket: Socket): R | undefined {
    return this.#read(socket as Carrier);
  }

  /**
   * Puts `record` on `socket`. The shared listeners are added when the socket carries no
   * record of this kind; one that does (a record that has served, like a released token) has
   * them already and only gets the new record: check {@link SocketRecords.get} first where
   * a record still in use must not be replaced.
   */
  attach(socket: Socket, record: R): void {
    const carrier = socket as Carrier;
    const bare = this.#read(carrier) === undefined;
    this.#write(carrier, record);
    if (bare) for (let i = 0; i < this.#events.length; i++) socket.on(this.#events[i]!, this.#listeners[i]!);
  }

  /** Takes the record and the shared listeners off `socket`, leaving it as it was found. */
  detach(socket: Socket): void {
    const carrier = socket as Carrier;
    if (this.#read(carrier) === undefined) return;
    this.#write(carrier, undefined);
    for (let i = 0; i < this.#events.length; i++) socket.off(this.#events[i]!, this.#listeners[i]!);
  }
}

/**
 * A read and a write of the property `key`, compiled for this key alone where Node allows it.
 * One function reading sockets under several symbols (a token, a handed-off entry, a waiting
 * entry) is a megamorphic keyed access, and per connection that showed: about 1 µs a connection
 * in a CPU profile, 1-2% more instructions per new connection (bench/RESULTS.md section 14).
 * Code of its own per key keeps each access monomorphic, as a constant symbol written at each
 * use was. Where code generation from strings is disallowed
 * (`--disallow-code-generation-from-strings`), shared closures do the same, slower.
 */
function accessors<R>(key: symbol): { read: (socket: Carrier) => R | undefined; write: (socket: Carrier, record: R | undefined) => void } {
  try {
    const make = new Function('key', 'return [(socket) => socket[key], (socket, record) => { socket[key] = record; }];') as (
      key: symbol,
    ) => [(socket: Carrier) => R | undefined, (socket: Carrier, record: R | undefined) => void];
    const [read, write] = make(key);
    return { read, write };
  } catch {
    return { read: (socket) => socket[key] as R | undefined, write: (socket, record) => void (socket[key] = record) };
  }
}
