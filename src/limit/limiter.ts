import { asyncScheduler, Subject, type Observable, type SchedulerLike } from 'rxjs';
import type { Socket } from 'node:net';
import { checkFunction, checkInteger } from '../util/validate';
import { LinkedList, type Links } from '../util/linkedList';
import { WaitQueue, type Departure, type Waiting } from './waitQueue';

/**
 * One admitted connection's slot under a {@link Limiter}. It is released when its socket
 * closes, or explicitly; releasing twice frees one slot only.
 *
 * A protocol that knows when a connection sits between exchanges (HTTP keep-alive between
 * requests) marks each exchange with {@link Token.busy} and {@link Token.idle}: when the limit
 * is full and a connection waits, the limiter closes the connection idle the longest to admit
 * it (nginx does the same with idle keep-alive connections), and during shutdown it closes
 * connections as they go idle. A connection is busy from admission until first marked idle, so
 * one whose first request is still unread is never taken for idle. {@link handTo} marks HTTP/1
 * connections.
 */
export interface Token {
  /** Frees the slot (once; later calls do nothing). The socket stays open. */
  release(): void;
  /** Whether the slot has been freed. */
  readonly released: boolean;
  /**
   * Ends an exchange: when none is left in flight, the connection is idle and may be closed to
   * admit a waiting connection (longest idle first), or at shutdown. It is closed gracefully
   * (`socket.destroySoon()`: what was written is flushed first), and never if bytes arrived
   * since it went idle (a request on its way). Without a matching {@link Token.busy}, it marks
   * the connection idle.
   */
  idle(): void;
  /**
   * Begins an exchange (a request arrived): the connection is not closed to admit others until
   * as many {@link Token.idle} calls have ended its exchanges (HTTP/1 pipelining and HTTP/2
   * streams overlap).
   */
  busy(): void;
  /**
   * Whether this connection should end after its current exchange: connections wait for a
   * slot, or the server is shutting down. An HTTP server answers with `Connection: close`
   * (as {@link handTo} does), which closes the connection without the keep-alive race.
   */
  readonly contended: boolean;
}

/** What a {@link Limiter} counts: anything that carries a connection's socket. */
export interface WithSocket {
  /** The connection's socket. */
  readonly socket: Socket;
}

/** Where a {@link Limiter} hands a connection that gets its slot, at once or after waiting. */
export interface Admissions<C> {
  /** The connection has its slot. */
  admitted(connection: C, token: Token): void;
  /** An `onQueueTimeout` hook threw while ending one of this owner's waiting connections. */
  failed(error: unknown): void;
}

/** Options of a {@link Limiter}. */
export interface LimiterOptions {
  /**
   * The most live connections from one remote address (nginx's `limit_conn`), counting those
   * waiting, so that one client cannot take every slot or fill the queue. Connections over it
   * are closed at once and counted in {@link Limiter.droppedPerPeer}; they do not pause the
   * listener, so others still get in. Default: no per-peer limit.
   */
  perPeer?: number;
  /**
   * How many connections may wait, first in first out, while every slot is taken; the
   * listener pauses only when the queue is full too. Default 511: what Node's listening
   * socket queues in the kernel by default (its backlog), so a burst that a listening socket
   * would have held waits here instead, while the listener stays open. Waiting sockets cost a
   * descriptor each (the start-up warning counts them). 0: none wait, the listener pauses at
   * the limit.
   */
  queue?: number;
  /**
   * How long a connection may wait for a slot, in ms; then it is handed to `onQueueTimeout`.
   * Default 10 000: a queue that has not moved for that long is overload, not a burst, and the
   * client is better told so than kept waiting. `Infinity`: wait as long as the client does.
   */
  queueTimeout?: number;
  /**
   * Ends a connection that waited `queueTimeout` ms. Default: `socket.destroy()`. For plain
   * HTTP, {@link serviceUnavailable} answers `503` with `Retry-After`.
   */
  onQueueTimeout?: (socket: Socket) => void;
  /** Where queue timeouts are timed. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

// Lets a token reach its limiter's private state without making that part of the public API.
let internals: {
  release(limiter: Limiter, token: SlotToken): void;
  idle(limiter: Limiter, token: SlotToken): void;
  busy(limiter: Limiter, token: SlotToken): void;
  contended(limiter: Limiter, token: SlotToken): boolean;
};

/**
 * Decides, for each connection, whether it gets a slot now, waits for one, or is refused:
 * counts live connections against a limit that can change while the server runs
 * (async-listen's `set_limit` / `get_active_tokens`), and keeps a bounded first-in first-out
 * queue of connections waiting for a slot. Share one between several listeners to give them a
 * common limit and queue. Lowering the limit never touches live connections: new ones wait
 * until enough of them have gone.
 */
export class Limiter {
  #limit: number;
  #active = 0;
  #dropped = 0;
  #droppedPerPeer = 0;
  #queued = 0;
  #admittedFromQueue = 0;
  #queueTimeouts = 0;
  #gaveUp = 0;
  #reclaimed = 0;
  #completed = 0;
  #refusing = false;
  #admitting = false;
  readonly #perPeer: number;
  #queueSize: number;
  readonly #onQueueTimeout: (socket: Socket) => void;
  // Live (and waiting) connections per remote address; an address leaves with its last one.
  readonly #peers = new Map<string, number>();
  readonly #waiting: WaitQueue<WithSocket, Admissions<never>>;
  // Tokens marked idle, longest idle first.
  readonly #idle = new LinkedList<SlotToken>();
  // Owners whose operator has ended: their connections close as they go idle.
  readonly #draining = new WeakSet<object>();
  // Whether any owner drains: spares the WeakSet lookup on every idle() and header decision.
  #drainingAny = false;
  readonly #changes = new Subject<void>();

  /**
   * Emits when {@link Limiter.refusing} may have changed (the listener must pause or may
   * resume), and on every {@link Limiter.setLimit}. (Not on every admission: that is the
   * accept path.)
   */
  readonly changes: Observable<void> = this.#changes.asObservable();

  /**
   * @param limit The most live connections, an integer >= 1.
   * @param options A per-peer limit, the wait queue.
   */
  constructor(limit: number, options: LimiterOptions = {}) {
    this.#limit = checkInteger('Limiter: limit', limit, 1);
    if (options === null || typeof options !== 'object') throw new TypeError(`Limiter: options must be an object, got ${String(options)}`);
    const { perPeer, queue = 511, queueTimeout = 10_000, onQueueTimeout = destroy, scheduler = asyncScheduler } = options;
    this.#perPeer = perPeer === undefined ? Infinity : checkInteger('Limiter: options.perPeer', perPeer, 1);
    this.#queueSize = checkInteger('Limiter: options.queue', queue, 0);
    if (queueTimeout !== Infinity) checkInteger('Limiter: options.queueTimeout', queueTimeout, 1);
    this.#onQueueTimeout = checkFunction('Limiter: options.onQueueTimeout', onQueueTimeout);
    this.#waiting = new WaitQueue(queueTimeout, scheduler, (waiting, why) => this.#depart(waiting, why));
  }

  /** Connections closed at once because their remote address held `perPeer` already. */
  get droppedPerPeer(): number {
    return this.#droppedPerPeer;
  }

  /** Live and waiting connections from one remote address. */
  activeFrom(address: string): number {
    return this.#peers.get(address) ?? 0;
  }

  /** The limit in force. */
  get limit(): number {
    return this.#limit;
  }

  /** Live tokens: connections admitted and not yet released. */
  get active(): number {
    return this.#active;
  }

  /** Connections that arrived with every slot taken and the queue full, closed at once. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Whether every slot is taken: the next connection would wait (or be refused). */
  get full(): boolean {
    return this.#active >= this.#limit;
  }

  /** How many connections may wait (the `queue` option, or the last {@link Limiter.setQueueSize}). */
  get queueSize(): number {
    return this.#queueSize;
  }

  /** Connections waiting for a slot now. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** Whether the next connection would be refused: every slot taken and the queue full. */
  get refusing(): boolean {
    return this.#active >= this.#limit && this.#waiting.size >= this.#queueSize;
  }

  /** Connections that have had to wait, in all. */
  get queued(): number {
    return this.#queued;
  }

  /** Connections admitted after waiting. */
  get admittedFromQueue(): number {
    return this.#admittedFromQueue;
  }

  /** Connections that waited `queueTimeout` ms and were handed to `onQueueTimeout`. */
  get queueTimeouts(): number {
    return this.#queueTimeouts;
  }

  /** Connections whose client gave up while waiting (reset, or closed before sending). */
  get gaveUp(): number {
    return this.#gaveUp;
  }

  /** Idle connections closed to admit a waiting one. */
  get reclaimed(): number {
    return this.#reclaimed;
  }

  /**
   * Exchanges completed: a request answered on a connection whose handler marks them
   * ({@link Token.idle}, as `handTo` does for HTTP), or a connection that ended while busy
   * (every connection, where nothing marks them). What {@link serviceTime} divides by.
   */
  get completed(): number {
    return this.#completed;
  }

  /** Changes the limit; live connections stay even if there are more than the new limit. */
  setLimit(limit: number): void {
    this.#limit = checkInteger('Limiter.setLimit: limit', limit, 1);
    this.#admitWaiting();
    this.#refusing = this.refusing;
    this.#changes.next();
  }

  /**
   * Changes how many connections may wait. Those waiting beyond a smaller size keep their
   * place (they are admitted in order or time out); new ones are refused until the queue is
   * below it.
   */
  setQueueSize(size: number): void {
    this.#queueSize = checkInteger('Limiter.setQueueSize: size', size, 0);
    this.#changed();
  }

  /**
   * Admits a socket now, or never: a token released when the socket closes, or, with every
   * slot taken, the socket destroyed and counted in {@link Limiter.dropped}. It does not wait
   * in the queue: that is {@link Limiter.enter}.
   *
   * @returns The token, or `undefined` when the socket was dropped.
   */
  admit(socket: Socket): Token | undefined {
    let token: Token | undefined;
    this.enter({ socket }, { admitted: (_, t) => (token = t), failed: rethrow }, false);
    return token;
  }

  /**
   * Gives a connection its slot (`owner.admitted` is called at once), queues it until one is
   * free (`owner.admitted` is called then), or refuses it (destroyed, counted in
   * {@link Limiter.dropped} or {@link Limiter.droppedPerPeer}). A socket that closed already
   * gets a released token and no slot.
   *
   * @param connection What to hand back on admission; its `socket` is what is counted.
   * @param owner Where admissions go; {@link Limiter.withdraw} ends what it queued.
   * @param wait Whether the connection may wait. Default true.
   * @returns What happened to it.
   */
  enter<C extends WithSocket>(connection: C, owner: Admissions<C>, wait = true): 'admitted' | 'queued' | 'dropped' {
    const { socket } = connection;
    // A socket that closed before admission (an asynchronous operator upstream) would never
    // emit 'close' again to free a slot: it gets none.
    if (socket.closed) return owner.admitted(connection, GONE), 'admitted';
    const room = this.#active < this.#limit && this.#waiting.size === 0;
    if (!room && (!wait || this.#waiting.size >= this.#queueSize)) {
      this.#dropped++;
      socket.destroy();
      return 'dropped';
    }
    let peer: string | undefined;
    if (this.#perPeer !== Infinity) {
      peer = socket.remoteAddress ?? '';
      const live = this.#peers.get(peer) ?? 0;
      if (live >= this.#perPeer) {
        this.#droppedPerPeer++;
        socket.destroy();
        return 'dropped';
      }
      this.#peers.set(peer, live + 1);
    }
    if (room) {
      const token = this.#issue(socket, peer, owner);
      if (this.#active === this.#limit) this.#changed(); // pause first: it may fail
      owner.admitted(connection, token);
      return 'admitted';
    }
    this.#queued++;
    this.#waiting.push(connection, owner as Admissions<never>, peer);
    this.#reclaimIdle();
    this.#changed();
    return 'queued';
  }

  /**
   * Ends what `owner` queued (each waiting socket destroyed) and lets its live connections
   * finish their current exchange: idle ones close now, busy ones as they go idle, and their
   * tokens report {@link Token.contended}. Called when an operator is unsubscribed.
   */
  withdraw(owner: object): void {
    this.#draining.add(owner);
    this.#drainingAny = true;
    this.#waiting.withdraw(owner as Admissions<never>);
    for (const token of this.#idle.toArray()) if (token.owner === owner) this.#reclaim(token, false);
    this.#changed();
  }

  #issue(socket: Socket, peer: string | undefined, owner: object): SlotToken {
    this.#active++;
    const token = new SlotToken(this, socket, peer, owner);
    const carrier = socket as Carrier;
    const previous = carrier[kToken];
    if (previous === undefined) {
      carrier[kToken] = token;
      socket.on('close', releaseOnClose);
    } else if (previous.released) {
      carrier[kToken] = token; // admitted again after a release: the shared listener is there
    } else {
      socket.on('close', () => token.release()); // admitted by a second limiter too: rare
    }
    return token;
  }

  /** Admits waiting connections, first in first out, while there are slots. */
  #admitWaiting(): void {
    if (this.#admitting) return; // an admission that released a slot: the loop below goes on
    this.#admitting = true;
    try {
      while (this.#active < this.#limit) {
        const next = this.#waiting.shift();
        if (next === undefined) break;
        this.#admittedFromQueue++;
        next.owner.admitted(next.connection as never, this.#issue(next.connection.socket, next.peer, next.owner));
      }
    } finally {
      this.#admitting = false;
    }
  }

  /** A connection left the queue without a slot. */
  #depart(waiting: Waiting<WithSocket, Admissions<never>>, why: Departure): void {
    this.#forgetPeer(waiting.peer);
    const { socket } = waiting.connection;
    if (why === 'expired') {
      this.#queueTimeouts++;
      try {
        this.#onQueueTimeout(socket);
      } catch (error) {
        socket.destroy();
        waiting.owner.failed(error);
      }
    } else {
      if (why === 'gone') this.#gaveUp++;
      socket.destroy();
    }
    this.#changed();
  }

  /** With connections waiting and every slot taken, closes the connection idle the longest. */
  #reclaimIdle(): void {
    // Each turn takes the first idle token out of the list (closed, or busy again).
    for (let token = this.#idle.first; token !== undefined; token = this.#idle.first) {
      if (this.#waiting.size === 0 || this.#active < this.#limit) return;
      this.#reclaim(token, true);
    }
  }

  /** Closes an idle connection, unless bytes arrived since it went idle (then it is busy). */
  #reclaim(token: SlotToken, forWaiting: boolean): void {
    this.#idle.remove(token);
    const { socket } = token;
    if (socket.bytesRead !== token.readAtIdle) return;
    if (forWaiting) this.#reclaimed++;
    token.release(); // the slot goes to the waiting connection now
    socket.destroySoon(); // flushes what was written, then closes: an orderly close for the client
  }

  #forgetPeer(peer: string | undefined): void {
    if (peer === undefined) return;
    const live = this.#peers.get(peer)! - 1;
    if (live === 0) this.#peers.delete(peer);
    else this.#peers.set(peer, live);
  }

  /** Tells the operators when `refusing` has flipped. */
  #changed(): void {
    const refusing = this.refusing;
    if (refusing === this.#refusing) return;
    this.#refusing = refusing;
    this.#changes.next();
  }

  static {
    internals = {
      release: (limiter, token) => {
        if (token.working) limiter.#completed++;
        limiter.#idle.remove(token);
        limiter.#forgetPeer(token.peer);
        limiter.#active--;
        if (limiter.#waiting.size > 0) limiter.#admitWaiting();
        limiter.#changed();
      },
      idle: (limiter, token) => {
        if (token.working) limiter.#completed++;
        token.working = false;
        token.readAtIdle = token.socket.bytesRead;
        limiter.#idle.remove(token); // to the back: idle the shortest
        limiter.#idle.push(token);
        if (limiter.#drainingAny && limiter.#draining.has(token.owner)) limiter.#reclaim(token, false);
        else if (limiter.#waiting.size > 0) limiter.#reclaimIdle();
      },
      busy: (limiter, token) => {
        token.working = true;
        limiter.#idle.remove(token);
      },
      contended: (limiter, token) => limiter.#waiting.size > 0 || (limiter.#drainingAny && limiter.#draining.has(token.owner)),
    };
  }
}

/** A live connection's slot: frees it once, on its socket's close or an explicit release. */
class SlotToken implements Token, Links<SlotToken> {
  #limiter: Limiter | undefined;
  /** Links in the limiter's list of idle tokens. */
  prev: SlotToken | undefined = undefined;
  next: SlotToken | undefined = undefined;
  /** `socket.bytesRead` when last marked idle. */
  readAtIdle = 0;
  /** Exchanges in flight: busy() minus idle(). */
  inFlight = 0;
  /** Busy, or fresh (busy from admission until its first exchange ends). */
  working = true;

  constructor(
    limiter: Limiter,
    readonly socket: Socket,
    readonly peer: string | undefined,
    readonly owner: object,
  ) {
    this.#limiter = limiter;
  }

  get released(): boolean {
    return this.#limiter === undefined;
  }

  get contended(): boolean {
    return this.#limiter !== undefined && internals.contended(this.#limiter, this);
  }

  release(): void {
    const limiter = this.#limiter;
    if (limiter === undefined) return;
    this.#limiter = undefined;
    internals.release(limiter, this);
  }

  idle(): void {
    if (this.inFlight > 0 && --this.inFlight > 0) return;
    if (this.#limiter !== undefined) internals.idle(this.#limiter, this);
  }

  busy(): void {
    if (this.inFlight++ === 0 && this.#limiter !== undefined) internals.busy(this.#limiter, this);
  }
}

/**
 * Where an admitted socket carries its token: {@link handTo} reads it on every request, and
 * one shared 'close' listener releases it. Not a closure per token: a listener that is a
 * young closure is held by the socket's `_events` object, and once V8 allocates `_events`
 * objects in the old generation (Node 26 pretenures that literal of the Duplex constructor),
 * a dead one keeps the closure, and the connection it reaches, alive through young-generation
 * collections until the next full one (bench/RESULTS.md section 11).
 */
export const kToken = Symbol('rxjs-listen token');

/** A socket that may carry its token. */
export type Carrier = Socket & { [kToken]?: Token };

function releaseOnClose(this: Carrier): void {
  this[kToken]!.release();
}

const GONE: Token = Object.freeze({ release: noop, idle: noop, busy: noop, released: true, contended: false });

function noop(): void {}

function destroy(socket: Socket): void {
  socket.destroy();
}

function rethrow(error: unknown): never {
  throw error;
}
