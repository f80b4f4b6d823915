import type { Observable } from 'rxjs';
import type { Socket } from 'node:net';
import { endSocket } from '../util/endSocket';
import { copyOf } from '../util/histogram';
import { checkInteger } from '../util/validate';
import type { Admissions, WithSocket } from './admissions';
import { Changes } from './changes';
import { Counts, type LimiterCounts, type Refusal } from './counts';
import { ExchangeGate } from './exchangeGate';
import { settleLimiterOptions, type LimiterOptions } from './limiterOptions';
import { PeerPolicy } from './peerPolicy';
import { Retirement } from './retirement';
import { GONE, issueToken, type SlotToken, type Token, type TokenHost } from './token';
import { WaitQueue } from './waitQueue';

export type { LimiterOptions, PerPeerRate } from './limiterOptions';

/**
 * Decides, for each connection, whether it gets a slot now, waits for one, or is refused:
 * counts live connections against a limit that can change while the server runs
 * (async-listen's `set_limit` / `get_active_tokens`), keeps a bounded first-in first-out
 * queue of connections waiting for a slot, and closes idle keep-alive connections to make
 * room for waiting ones. Share one between several listeners to give them a common limit and
 * queue. Lowering the limit never touches live connections: new ones wait until enough of
 * them have gone.
 *
 * It keeps the slots, the wait queue and the {@link Token}s; the rest it hands to a module of
 * `limit/` each: options (`limiterOptions`), decisions by address (`peerPolicy`), retirement of
 * connections (`retirement`), decisions per request (`exchangeGate`), its `changes`.
 */
export class Limiter {
  #limit: number;
  #live = 0;
  #queueSize: number;
  readonly #counts = new Counts();
  readonly #waiting: WaitQueue<WithSocket, Admissions<never>>;
  readonly #peers: PeerPolicy;
  readonly #retirement: Retirement;
  // Whether a new exchange may begin on an admitted connection (per request, not per connection).
  readonly #exchanges: ExchangeGate;
  readonly #refuse: (socket: Socket) => void;
  // An admission under way: a release it causes must not start a second admission loop.
  #admitting = false;
  readonly #changes = new Changes();

  /**
   * Emits when {@link Limiter.refusing} has flipped (the listener must pause or may resume),
   * and on every {@link Limiter.setLimit}: not on every admission or release, which are the
   * accept path.
   */
  readonly changes: Observable<void> = this.#changes.events;

  /** How tokens reach back into this limiter: their events, and nothing else. */
  readonly #host: TokenHost = {
    released: (token) => {
      this.#exchanges.ended(token);
      this.#retirement.released(token);
      if (token.peer !== undefined) this.#peers.leave(token.peer);
      this.#live--;
      if (this.#waiting.size > 0) this.#admitWaiting();
      this.#changes.announce(this.refusing);
    },
    wentIdle: (token) => {
      this.#exchanges.ended(token);
      token.exchanges = -1;
      if (!this.#retirement.wentIdle(token) && this.#waiting.size > 0) this.#retirement.reclaim();
    },
    wentBusy: (token) => {
      this.#exchanges.inFlight++;
      this.#retirement.wentBusy(token);
    },
    admitsExchange: (token) => this.#exchanges.admitsOn(token),
    retiring: (token) => this.#waiting.size > 0 || this.#retirement.retiring(token),
    retiresGracefully: (token) => this.#retirement.retiresGracefully(token),
  };

  /**
   * @param limit The most live connections, an integer >= 1.
   * @param options A per-peer limit, the wait queue.
   */
  constructor(limit: number, options: LimiterOptions = {}) {
    this.#limit = checkInteger('Limiter: limit', limit, 1);
    const { perPeer, perPeerRate, queueSize, queueTimeout, onQueueTimeout, maxWaitMs, refuse, scheduler } = settleLimiterOptions(options);
    const now = (): number => scheduler.now();
    this.#queueSize = queueSize;
    this.#refuse = refuse;
    this.#peers = new PeerPolicy(perPeer, perPeerRate, now);
    this.#retirement = new Retirement(this, this.#counts, scheduler);
    this.#exchanges = new ExchangeGate(now, this.#counts);
    this.#exchanges.waitMs = maxWaitMs;
    this.#waiting = new WaitQueue(queueTimeout, scheduler, onQueueTimeout, this.#counts, this.#peers, () => this.#changes.announce(this.refusing));
  }

  /** The limit in force. */
  get limit(): number {
    return this.#limit;
  }

  /** Live connections: admitted, their tokens not yet released. */
  get live(): number {
    return this.#live;
  }

  /** Live and waiting connections from one remote address (counted only with a `perPeer` limit). */
  liveFrom(address: string): number {
    return this.#peers.liveFrom(address);
  }

  /**
   * Exchanges in flight: connections whose protocol marked an exchange begun ({@link Token.busy},
   * as {@link handTo} does for each HTTP request) and not yet ended. A fresh connection that has
   * sent nothing yet, an idle keep-alive one, and one whose protocol marks nothing do not count.
   */
  get inFlight(): number {
    return this.#exchanges.inFlight;
  }

  /**
   * The most exchanges in flight ({@link Limiter.inFlight}): a request that would begin beyond it
   * is answered at once that the server is overloaded ({@link Token.tryBusy}). Idle keep-alive
   * connections do not count, so a limit learned from CPU ({@link overload!targetLimit}) never closes
   * them. `Infinity` (the default): no bound.
   */
  get exchangeLimit(): number {
    return this.#exchanges.limit;
  }

  /** Changes {@link Limiter.exchangeLimit}: an integer >= 1, or `Infinity`. Exchanges in flight go on. */
  setExchangeLimit(limit: number): void {
    this.#exchanges.limit = limit === Infinity ? limit : checkInteger('Limiter.setExchangeLimit: limit', limit, 1);
  }

  /** Whether every slot is taken: the next connection would wait (or be refused). */
  get full(): boolean {
    return this.#live >= this.#limit;
  }

  /** How many connections may wait (the `queueSize` option, or the last {@link Limiter.setQueueSize}). */
  get queueSize(): number {
    return this.#queueSize;
  }

  /** Connections waiting for a slot now. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** Whether the next connection would be refused: every slot taken and the queue full. */
  get refusing(): boolean {
    return this.#live >= this.#limit && this.#waiting.size >= this.#queueSize;
  }

  /** Idle connections now, by what they speak ({@link Token.protocol}): what reclaim could close. Counted when read. */
  get idleByProtocol(): Record<string, number> {
    return this.#retirement.idleByProtocol();
  }

  /** What this limiter has counted so far: a copy, taken now. */
  get counts(): LimiterCounts {
    return { ...this.#counts, queueWait: copyOf(this.#counts.queueWait) };
  }

  /** Changes the limit; live connections stay even if there are more than the new limit. */
  setLimit(limit: number): void {
    this.#limit = checkInteger('Limiter.setLimit: limit', limit, 1);
    this.#admitWaiting();
    this.#changes.emit(this.refusing);
  }

  /**
   * Changes how many connections may wait. Those waiting beyond a smaller size keep their place
   * (admitted in order, or timed out); new ones are refused until the queue is below it.
   */
  setQueueSize(size: number): void {
    this.#queueSize = checkInteger('Limiter.setQueueSize: size', size, 0);
    this.#changes.announce(this.refusing);
  }

  /**
   * Makes every live connection, and every one admitted from now on, retire after its current
   * exchange ({@link Token.retiring}: HTTP answers `Connection: close`), without closing the
   * idle ones. Each closes after its next exchange, or when the operator that admitted it is
   * unsubscribed. It cannot be undone.
   */
  retireAfterExchanges(): void {
    this.#retirement.retireAll();
  }

  /**
   * From now on, when an operator is unsubscribed (`serve`'s shutdown), its idle connections
   * are not closed at once: each is closed once it has stayed idle, nothing received, for `ms`
   * (checked every `ms`); busy ones still end after their exchange (`Connection: close`). What
   * {@link balancer!drain} sets behind a load balancer, so that closing one races no request.
   *
   * @param ms How long an idle connection must stay unused, ms (an integer >= 1).
   */
  closeIdleAfter(ms: number): void {
    this.#retirement.idleGraceMs = checkInteger('Limiter.closeIdleAfter: ms', ms, 1);
  }

  /**
   * Records the remote address of every connection from now on, what {@link Limiter.shedHeaviest}
   * judges by (not by default: reading a socket's address costs a system call), while any caller
   * watches; {@link overload!pauseUnderPressure}'s `shedHeaviest` option watches while it is subscribed.
   *
   * @returns The function that stops this caller's watch.
   */
  watchArrivals(): () => void {
    return this.#peers.shedding.watch();
  }

  /**
   * Under overload, refuses the clients that cause it first: from now until
   * {@link Limiter.stopShedding}, every new connection from the addresses that brought most of the
   * connections of the last second (each more than 1.5 times an equal share among the addresses
   * seen in the last 10 s, together more than half) is closed at once, before a byte is read, and
   * counted in `counts.droppedHeaviest`; everyone else is handled as usual. Called again, it
   * judges again. None, and nothing shed, when no address stands out (connections spread evenly,
   * fewer than 32 in the last second, arrivals not watched): refuse everyone then (pause).
   *
   * A single address seen, as a flood alone or one balancer in front without the PROXY protocol,
   * gets a look: refused for 30 ms (and returned; calls within the look say the same), at most
   * once a second, before the pause, so that a client queued behind it is seen (behind a
   * balancer: requests it cannot retry elsewhere; leave shedding off there).
   *
   * @returns The addresses now refused.
   */
  shedHeaviest(): readonly string[] {
    return this.#peers.shedding.judge();
  }

  /** Ends {@link Limiter.shedHeaviest}'s refusals: the overload is over. */
  stopShedding(): void {
    this.#peers.shedding.stop();
  }

  /**
   * Admits a socket now, or never: a token released when the socket closes; or, with every slot
   * taken or its address at `perPeer`, the socket destroyed and counted (`counts.dropped`,
   * `counts.droppedPerPeer`). It does not wait in the queue (that is {@link backpressure}'s way
   * in). A socket that closed already gets a released token and no slot.
   *
   * @returns The token, or `undefined` when the socket was dropped.
   */
  admit(socket: Socket): Token | undefined {
    let token: Token | undefined;
    this.enter({ socket }, { admitted: (_, t) => (token = t), failed: rethrow }, false);
    return token;
  }

  /**
   * Gives a connection its slot (`owner.admitted` is called at once), queues it until one is free
   * (`owner.admitted` is called then), or refuses it (ended and counted, as {@link Limiter.admit}
   * does). What {@link backpressure} calls for each connection.
   *
   * @param connection What to hand back on admission; its `socket` is what is counted.
   * @param owner Where admissions go; {@link Limiter.withdraw} ends what it queued.
   * @param wait Whether the connection may wait. Default true.
   * @returns What happened to it.
   * @internal
   */
  enter<C extends WithSocket>(connection: C, owner: Admissions<C>, wait = true): 'admitted' | 'queued' | 'dropped' {
    const { socket } = connection;
    // A socket that closed before admission (an asynchronous operator upstream) would never
    // emit 'close' again to free a slot: it gets none.
    if (socket.closed) return owner.admitted(connection, GONE), 'admitted';
    const screened = this.#peers.screen(socket);
    if (screened !== undefined) return this.#drop(socket, screened);
    const room = this.#live < this.#limit && this.#waiting.size === 0;
    if (!room && (!wait || this.#waiting.size >= this.#queueSize)) return this.#drop(socket, 'dropped');
    const peer = this.#peers.enter(socket);
    if (peer === false) return this.#drop(socket, 'droppedPerPeer');
    if (room) {
      const token = this.#issue(socket, peer, owner);
      if (this.#live === this.#limit) this.#changes.announce(this.refusing); // pause first: it may fail
      owner.admitted(connection, token);
      return 'admitted';
    }
    this.#counts.queued++;
    this.#waiting.push(connection, owner as Admissions<never>, peer);
    this.#retirement.reclaim();
    this.#changes.announce(this.refusing);
    return 'queued';
  }

  /**
   * Ends what `owner` queued (each waiting socket destroyed) and retires its live connections:
   * those with a graceful retirement (HTTP/2 GOAWAY, a WebSocket close) and idle ones now, busy
   * ones as they go idle ({@link Token.retiring}). Called when an operator is unsubscribed.
   *
   * @internal
   */
  withdraw(owner: object): void {
    this.#retirement.withdraw(owner, this.#waiting);
    this.#changes.announce(this.refusing);
  }

  /** Gives a connection a slot: its token. */
  #issue(socket: Socket, peer: string | undefined, owner: object): SlotToken {
    this.#live++;
    return issueToken(this.#host, socket, peer, owner);
  }

  /** Refuses a connection at once, counted; ended by `refuse` (`onExceeded` over the rate). */
  #drop(socket: Socket, counter: Refusal): 'dropped' {
    this.#counts[counter]++;
    endSocket(counter === 'droppedPerPeerRate' ? this.#peers.onRateExceeded! : this.#refuse, socket);
    return 'dropped';
  }

  /** Admits waiting connections, first in first out, while there are slots. */
  #admitWaiting(): void {
    if (this.#admitting) return; // an admission that released a slot: the loop below goes on
    this.#admitting = true;
    try {
      while (this.#live < this.#limit) {
        const next = this.#waiting.shift();
        if (next === undefined) break;
        this.#counts.admittedFromQueue++;
        this.#counts.queueWait.record((this.#waiting.now() - next.since) / 1000);
        next.owner.admitted(next.connection as never, this.#issue(next.connection.socket, next.peer, next.owner));
      }
    } finally {
      this.#admitting = false;
    }
  }
}

function rethrow(error: unknown): never {
  throw error;
}
