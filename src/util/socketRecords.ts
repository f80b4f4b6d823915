import type { Socket } from 'node:net';

/** A socket as seen by {@link SocketRecords}: it may carry records under symbols. */
type Carrier = Socket & Record<symbol, unknown>;
type Accessors<R> = [read: (socket: Carrier) => R | undefined, write: (socket: Carrier, record: R | undefined) => void];

/**
 * One kind of record that rides on sockets (a token, a place in a queue), at most one per socket,
 * under a symbol of its own, told of the socket's events by one listener per event shared by all.
 * Not a closure per socket: an old-generation `_events` (Node 26 pretenures it) keeps a dead
 * socket's young closure, and its connection, alive until the next full GC (bench/RESULTS.md 11).
 */
export class SocketRecords<R extends object> {
  /** Where the record is stored: public for the hot paths that read it on every request. */
  readonly key: symbol;
  readonly #events: readonly string[];
  readonly #listeners: ReadonlyArray<(this: Carrier) => void>;
  readonly #read: Accessors<R>[0];
  readonly #write: Accessors<R>[1];

  /** @param on What to do with a socket's record on each of its events, while it carries one. */
  constructor(name: string, on: Readonly<Record<string, (record: R) => void>>) {
    this.key = Symbol(`rxjs-listen ${name}`);
    const [read, write] = accessors<R>(this.key);
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

  /** Puts `record` on `socket`, replacing any (check {@link SocketRecords.get} first); the listeners are added to a bare socket only. */
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
 * A read and a write of `key`, compiled for this key alone: one function reading several symbols
 * is a megamorphic access, about 1 µs and 1-2% more instructions a connection (bench/RESULTS.md 14).
 * Shared closures, slower, where code generation from strings is disallowed.
 */
function accessors<R>(key: symbol): Accessors<R> {
  try {
    return (new Function('key', 'return [(socket) => socket[key], (socket, record) => { socket[key] = record; }];') as (key: symbol) => Accessors<R>)(key);
  } catch {
    return [(socket) => socket[key] as R | undefined, (socket, record) => void (socket[key] = record)];
  }
}
