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
import { GONE, issueToken, type Token, type TokenHost } from './token';
import { WaitQueue } from './waitQueue';

export type { LimiterOptions, PerPeerRate } from './limiterOptions';

/**
 * Decides, for each connection, whether it gets a slot now, waits for one in a bounded first-in
 * first-out queue, or is refused, against a limit that can change while the server runs
 * (async-listen's `set_limit`); closes idle keep-alive connections to make room for waiting ones.
 * Share one between listeners to give them a common limit and queue. Lowering the limit never
 * touches live connections.
 */
export class Limiter {
  #limit: number;
  #live = 0;
  #queueSize: number;
  readonly #counts = new Counts();
  readonly #waiting: WaitQueue;
  readonly #peers: PeerPolicy;
  readonly #retirement: Retirement;
  readonly #exchanges: ExchangeGate;
  readonly #refuse: (socket: Socket) => void;
  // An admission under way: a release it causes must not start a second admission loop.
  #admitting = false;
  readonly #changes = new Changes();

  /** Emits when {@link Limiter.refusing} has flipped (the listener must pause or may resume), and on every {@link Limiter.setLimit}. */
  readonly changes: Observable<void> = this.#changes.events;

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

  /** @param limit The most live connections, an integer >= 1. */
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

  /** Exchanges in flight: begun ({@link Token.busy}, as {@link handTo} marks each HTTP request) and not yet ended. */
  get inFlight(): number {
    return this.#exchanges.inFlight;
  }

  /**
   * The most exchanges in flight ({@link Limiter.inFlight}): a request beyond it is answered at once
   * that the server is overloaded ({@link Token.tryBusy}); idle connections do not count. Default `Infinity`.
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

  /** Changes how many connections may wait; those waiting beyond a smaller size keep their place. */
  setQueueSize(size: number): void {
    this.#queueSize = checkInteger('Limiter.setQueueSize: size', size, 0);
    this.#changes.announce(this.refusing);
  }

  /**
   * Makes every connection, live or admitted later, retire after its current exchange
   * ({@link Token.retiring}: HTTP answers `Connection: close`), idle ones left open. It cannot be undone.
   */
  retireAfterExchanges(): void {
    this.#retirement.retireAll();
  }

  /**
   * From now on, an unsubscribed operator's idle connections are closed only once unused for `ms` (an integer >= 1,
   * checked every `ms`), not at once: what {@link balancer!drain} sets, so that closing one races no request.
   */
  closeIdleAfter(ms: number): void {
    this.#retirement.idleGraceMs = checkInteger('Limiter.closeIdleAfter: ms', ms, 1);
  }

  /**
   * Records every connection's remote address, what {@link Limiter.shedHeaviest} judges by, while
   * any caller watches (not by default: it costs a system call).
   *
   * @returns The function that stops this caller's watch.
   */
  watchArrivals(): () => void {
    return this.#peers.shedding.watch();
  }

  /**
   * Records the arrival of a connection refused before it reached the limiter (a pause's flush
   * answered it), while arrivals are watched: a client whose first connections a pause refused is
   * then seen, and shed no more once the flood's address is told apart from it. Only for a socket
   * whose `remoteAddress` is the client's (behind a PROXY-protocol balancer, not before the header).
   */
  noteArrival(socket: Socket): void {
    this.#peers.shedding.record(socket);
  }

  /**
   * Under overload, refuses first the clients that cause it: until {@link Limiter.stopShedding}, new
   * connections from the addresses that brought most of those of the last second are closed before a
   * byte is read (`counts.droppedHeaviest`), but one at a time each, admitted until it closes (so
   * that a flood is still served at the loop's pace); a single address seen is refused whole for a
   * 30 ms look, at most once a second. Called again, it judges again.
   *
   * @returns The addresses now refused; none when no address stands out: refuse everyone then (pause).
   */
  shedHeaviest(): readonly string[] {
    return this.#peers.shedding.judge();
  }

  /** Ends {@link Limiter.shedHeaviest}'s refusals: the overload is over. */
  stopShedding(): void {
    this.#peers.shedding.stop();
  }

  /**
   * Admits a socket now, or refuses it (ended and counted): it never waits ({@link backpressure} queues).
   * A socket closed already gets a released token and no slot.
   *
   * @returns The token, released when the socket closes; `undefined` when the socket was refused.
   */
  admit(socket: Socket): Token | undefined {
    let token: Token | undefined;
    this.enter({ socket }, { admitted: (_, t) => (token = t), failed: rethrow }, false);
    return token;
  }

  /**
   * Gives a connection its slot or queues it until one is free (`owner.admitted` is called then;
   * {@link Limiter.withdraw} ends what it queued), or refuses it (ended and counted). @internal
   */
  enter<C extends WithSocket>(connection: C, owner: Admissions<C>, wait = true): 'admitted' | 'queued' | 'dropped' {
    const { socket } = connection;
    // A socket closed before admission (an asynchronous operator upstream) will not emit 'close' again to free a slot.
    if (socket.closed) return owner.admitted(connection, GONE), 'admitted';
    const screened = this.#peers.screen(socket);
    if (screened !== undefined) return this.#drop(socket, screened);
    const room = this.#live < this.#limit && this.#waiting.size === 0;
    if (!room && (!wait || this.#waiting.size >= this.#queueSize)) return this.#drop(socket, 'dropped');
    const peer = this.#peers.enter(socket);
    if (peer === false) return this.#drop(socket, 'droppedPerPeer');
    if (room) {
      this.#live++;
      const token = issueToken(this.#host, socket, peer, owner);
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

  /** Ends what `owner` queued and retires its live connections (graceful and idle ones now): its operator was unsubscribed. @internal */
  withdraw(owner: object): void {
    this.#retirement.withdraw(owner, this.#waiting);
    this.#changes.announce(this.refusing);
  }

  /** Refuses a connection at once, counted; ended by `refuse` (`onExceeded` over the rate). */
  #drop(socket: Socket, counter: Refusal): 'dropped' {
    this.#counts[counter]++;
    endSocket(counter === 'droppedPerPeerRate' ? this.#peers.onRateExceeded! : this.#refuse, socket);
    return 'dropped';
  }

  #admitWaiting(): void {
    if (this.#admitting) return; // an admission that released a slot: the loop below goes on
    this.#admitting = true;
    try {
      while (this.#live < this.#limit) {
        const next = this.#waiting.shift();
        if (next === undefined) break;
        this.#live++;
        next.owner.admitted(next.connection as never, issueToken(this.#host, next.connection.socket, next.peer, next.owner));
      }
    } finally {
      this.#admitting = false;
    }
  }
}

function rethrow(error: unknown): never {
  throw error;
}
