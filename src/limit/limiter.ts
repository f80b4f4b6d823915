import { asyncScheduler, Subject, type Observable, type SchedulerLike } from 'rxjs';
import type { Socket } from 'node:net';
import { ipv6Prefix } from '../util/addresses';
import { endSocket } from '../util/endSocket';
import { checkFunction, checkInteger, checkKnownOptions, checkNumber, checkOptions } from '../util/validate';
import { Counts, type LimiterCounts } from './counts';
import { ExchangeGate } from './exchangeGate';
import { IdlePool, retire } from './idlePool';
import { PeerCounts } from './peerCounts';
import { PeerRates } from './peerRates';
import { Shedding } from './shedding';
import { GONE, SlotToken, tokens, type Token, type TokenHost } from './token';
import { WaitQueue, type Departure, type Waiting } from './waitQueue';

/** What a {@link Limiter} counts: anything that carries a connection's socket. @internal */
export interface WithSocket {
  /** The connection's socket. */
  readonly socket: Socket;
}

/** Where a {@link Limiter} hands a connection that gets its slot, at once or after waiting. @internal */
export interface Admissions<C> {
  /** The connection has its slot. */
  admitted(connection: C, token: Token): void;
  /** An `onQueueTimeout` hook threw while ending one of this owner's waiting connections. */
  failed(error: unknown): void;
}

/** A per-address connection rate ({@link LimiterOptions.perPeerRate}). */
export interface PerPeerRate {
  /** New connections per second, after the burst: a number > 0. */
  readonly rate: number;
  /** New connections at once: an integer >= 1. Default: `rate`, rounded up. */
  readonly burst?: number;
  /** The most addresses remembered, an integer >= 1. Default 100 000. */
  readonly maxAddresses?: number;
  /** Ends a connection over the rate. Default: `socket.destroy()`. */
  readonly onExceeded?: (socket: Socket) => void;
  /**
   * Counts IPv6 clients by network: addresses that share their first `ipv6Prefix` bits share
   * one bucket (an integer 1 to 128; 64 is what one IPv6 host commonly holds, so a client
   * cannot escape its rate by changing address within it). IPv4 addresses, and IPv4 clients
   * of a dual-stack socket, still count one by one. Default: every address its own bucket.
   */
  readonly ipv6Prefix?: number;
}

/** Options of a {@link Limiter}. */
export interface LimiterOptions {
  /**
   * The most live connections from one remote address (nginx's `limit_conn`), counting those
   * waiting, so that one client cannot take every slot or fill the queue. Connections over it
   * are closed at once and counted in `counts.droppedPerPeer`; they do not pause the listener,
   * so others still get in. Default: no per-peer limit.
   */
  perPeer?: number;
  /**
   * New connections per second from one remote address, a token bucket per address checked
   * before a byte is read: `rate` a second, `burst` at once (default `rate`). Connections over
   * it are handed to `onExceeded` (default: closed at once) and counted in
   * `counts.droppedPerPeerRate`; they never wait, and never pause the listener. Memory stays
   * bounded whatever the number of addresses: at most `maxAddresses` buckets (default 100 000,
   * about 100 B each), full ones forgotten first (see `PeerRates`). Default: no rate limit.
   */
  perPeerRate?: PerPeerRate;
  /**
   * How many connections may wait, first in first out, while every slot is taken; the
   * listener pauses only when the queue is full too. Default 511: what Node's listening
   * socket queues in the kernel by default (its backlog), so a burst that a listening socket
   * would have held waits here instead, while the listener stays open. Waiting sockets cost a
   * descriptor each (the start-up warning counts them). 0: none wait, the listener pauses at
   * the limit.
   */
  queueSize?: number;
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
  /**
   * The longest a request should wait for the event loop, in ms. The loop handles every
   * request that is ready when it polls in one turn, one after another: once it has worked
   * `maxWaitMs` into a turn, the rest of that turn's requests have waited at least as long,
   * and are answered at once that the server is overloaded (HTTP/1: `503` with `Retry-After`,
   * the connection kept open; counted in `counts.shedRequests`) instead of waiting longer for
   * their handlers. Served requests then wait at most about twice this. Judged by
   * {@link Token.tryBusy}, which {@link handTo} calls for every HTTP/1 request. Default: none
   * (`Infinity`).
   */
  maxWaitMs?: number;
  /**
   * Ends a connection refused at once: over the limit with the queue full, over `perPeer`, or
   * shed under overload ({@link Limiter.shedHeaviest}). Default: `socket.destroy()`, which a
   * client that has sent its request meets as a reset and cannot tell from a failure after its
   * request was done. For plain HTTP, {@link serviceUnavailable} answers `503` with
   * `Retry-After` instead. An exception it throws destroys the socket.
   */
  refuse?: (socket: Socket) => void;
  /** Where queue timeouts are timed. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/**
 * Decides, for each connection, whether it gets a slot now, waits for one, or is refused:
 * counts live connections against a limit that can change while the server runs
 * (async-listen's `set_limit` / `get_active_tokens`), keeps a bounded first-in first-out
 * queue of connections waiting for a slot, and closes idle keep-alive connections to make
 * room for waiting ones. Share one between several listeners to give them a common limit and
 * queue. Lowering the limit never touches live connections: new ones wait until enough of
 * them have gone.
 *
 * It makes every decision; each piece it holds keeps one kind of state: the {@link Token}s (one
 * per live connection), the wait queue, the per-address counts and rates, the idle
 * connections, who is shed under overload and its {@link LimiterCounts} (`limit/` has one
 * module for each).
 */
export class Limiter {
  #limit: number;
  #live = 0;
  #queueSize: number;
  readonly #counts = new Counts();
  // Only with a per-peer limit: without one, nothing is kept per address.
  readonly #peers: PeerCounts | undefined;
  // Only with a per-peer rate.
  readonly #rates: PeerRates | undefined;
  readonly #onRateExceeded: (socket: Socket) => void;
  // With perPeerRate.ipv6Prefix: the prefix length IPv6 addresses are counted by.
  readonly #rateBits: number | undefined;
  // Who is refused under overload (shedHeaviest).
  readonly #shedding: Shedding;
  readonly #waiting: WaitQueue<WithSocket, Admissions<never>>;
  readonly #idle = new IdlePool();
  // Whether a new exchange may begin on an admitted connection (per request, not per connection).
  readonly #exchanges: ExchangeGate;
  // Connections with an exchange begun ({@link Token.busy}) and not ended.
  #inFlight = 0;
  // Connections whose protocol retires them gracefully (HTTP/2, WebSocket): retired at shutdown
  // busy or not. A Set is fine here: they are few and long-lived (see LinkedList on why the
  // accept path keeps none).
  readonly #graceful = new Set<SlotToken>();
  readonly #onQueueTimeout: (socket: Socket) => void;
  readonly #refuse: (socket: Socket) => void;
  // Owners whose operator has ended: their connections retire (close as they go idle).
  readonly #draining = new WeakSet<object>();
  // Whether any owner drains: spares the WeakSet lookup on every idle() and header decision.
  #drainingAny = false;
  // Every connection retires after its exchange, idle ones left open (see retireAfterExchanges).
  #retiringAll = false;
  // How long a withdrawal leaves an idle connection open (see closeIdleAfter); 0: closed at once.
  #idleGraceMs = 0;
  readonly #scheduler: SchedulerLike;
  // `refusing` as last announced through `changes`.
  #announcedRefusing = false;
  // An admission under way: a release it causes must not start a second admission loop.
  #admitting = false;
  readonly #changes = new Subject<void>();

  /**
   * Emits when {@link Limiter.refusing} has flipped (the listener must pause or may resume),
   * and on every {@link Limiter.setLimit}: not on every admission or release, which are the
   * accept path.
   */
  readonly changes: Observable<void> = this.#changes.asObservable();

  /** How tokens reach back into this limiter: their events, and nothing else. */
  readonly #host: TokenHost = {
    released: (token) => {
      if (!token.isIdle) this.#counts.completed++; // ended during an exchange (or fresh)
      if (token.exchanges > 0) this.#inFlight--;
      this.#idle.remove(token);
      if (token.graceful) this.#graceful.delete(token);
      if (token.peer !== undefined) this.#peers!.leave(token.peer);
      this.#live--;
      if (this.#waiting.size > 0) this.#admitWaiting();
      this.#announce();
    },
    wentIdle: (token) => {
      if (!token.isIdle) this.#counts.completed++;
      if (token.exchanges > 0) this.#inFlight--;
      token.exchanges = -1;
      this.#idle.add(token);
      if (this.#drainingAny && this.#draining.has(token.owner)) {
        if (this.#idleGraceMs === 0) this.#idle.close(token);
        else this.#sweepIdle(); // closed once it has stayed idle
      } else if (this.#waiting.size > 0) this.#reclaimIdle();
    },
    wentBusy: (token) => {
      this.#inFlight++;
      this.#idle.remove(token);
    },
    admitsExchange: (token) => {
      if (this.#exchanges.admits(this.#inFlight - (token.exchanges > 0 ? 1 : 0))) return true;
      this.#counts.shedRequests++;
      return false;
    },
    retiring: (token) => this.#waiting.size > 0 || this.#retiringAll || (this.#drainingAny && this.#draining.has(token.owner)),
    retiresGracefully: (token) => {
      if (this.#drainingAny && this.#draining.has(token.owner)) retire(token);
      else this.#graceful.add(token);
    },
  };

  /**
   * @param limit The most live connections, an integer >= 1.
   * @param options A per-peer limit, the wait queue.
   */
  constructor(limit: number, options: LimiterOptions = {}) {
    this.#limit = checkInteger('Limiter: limit', limit, 1);
    checkKnownOptions('Limiter: options', options, ['perPeer', 'perPeerRate', 'queueSize', 'queueTimeout', 'onQueueTimeout', 'maxWaitMs', 'refuse', 'scheduler']);
    const { perPeer, queueSize = 511, queueTimeout = 10_000, onQueueTimeout = destroy, scheduler = asyncScheduler } = options;
    this.#peers = perPeer === undefined ? undefined : new PeerCounts(checkInteger('Limiter: options.perPeer', perPeer, 1));
    this.#queueSize = checkInteger('Limiter: options.queueSize', queueSize, 0);
    if (queueTimeout !== Infinity) checkInteger('Limiter: options.queueTimeout', queueTimeout, 1);
    this.#onQueueTimeout = checkFunction('Limiter: options.onQueueTimeout', onQueueTimeout);
    this.#refuse = checkFunction('Limiter: options.refuse', options.refuse ?? destroy);
    this.#scheduler = scheduler;
    this.#shedding = new Shedding(() => scheduler.now());
    this.#exchanges = new ExchangeGate(() => scheduler.now());
    if (options.maxWaitMs !== undefined && options.maxWaitMs !== Infinity) this.#exchanges.waitMs = checkInteger('Limiter: options.maxWaitMs', options.maxWaitMs, 1);
    const rate = options.perPeerRate;
    this.#onRateExceeded = destroy;
    if (rate !== undefined) {
      checkOptions('Limiter: options.perPeerRate', rate);
      checkNumber('Limiter: options.perPeerRate.rate', rate.rate, { above: 0 });
      const burst = rate.burst === undefined ? Math.ceil(rate.rate) : checkInteger('Limiter: options.perPeerRate.burst', rate.burst, 1);
      const maxAddresses = rate.maxAddresses === undefined ? 100_000 : checkInteger('Limiter: options.perPeerRate.maxAddresses', rate.maxAddresses, 1);
      if (rate.onExceeded !== undefined) this.#onRateExceeded = checkFunction('Limiter: options.perPeerRate.onExceeded', rate.onExceeded);
      if (rate.ipv6Prefix !== undefined) this.#rateBits = checkInteger('Limiter: options.perPeerRate.ipv6Prefix', rate.ipv6Prefix, 1, 128);
      this.#rates = new PeerRates(rate.rate, burst, maxAddresses, () => scheduler.now());
    }
    this.#waiting = new WaitQueue(queueTimeout, scheduler, (waiting, why) => this.#depart(waiting, why));
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
    return this.#peers?.of(address) ?? 0;
  }

  /**
   * Exchanges in flight: connections whose protocol marked an exchange begun
   * ({@link Token.busy}, as {@link handTo} does for each HTTP request) and not yet ended. A
   * fresh connection that has sent nothing yet, an idle keep-alive one, and one whose protocol
   * marks nothing do not count. What {@link Limiter.exchangeLimit} bounds.
   */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * The most exchanges in flight: a request that would begin beyond it is answered at once
   * that the server is overloaded ({@link Token.tryBusy}). Idle keep-alive connections do not
   * count, so a limit learned from CPU ({@link targetLimit}) never closes them. `Infinity`
   * (the default): no bound.
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

  /**
   * Idle connections now, by what they speak ({@link Token.protocol}): what reclaim could
   * close for waiting clients. Counted when read (it walks the idle connections).
   */
  get idleByProtocol(): Record<string, number> {
    return this.#idle.byProtocol();
  }

  /** What this limiter has counted so far: a copy, taken now. */
  get counts(): LimiterCounts {
    return { ...this.#counts };
  }

  /** Changes the limit; live connections stay even if there are more than the new limit. */
  setLimit(limit: number): void {
    this.#limit = checkInteger('Limiter.setLimit: limit', limit, 1);
    this.#admitWaiting();
    this.#announcedRefusing = this.refusing;
    this.#changes.next();
  }

  /**
   * Changes how many connections may wait. Those waiting beyond a smaller size keep their
   * place (they are admitted in order or time out); new ones are refused until the queue is
   * below it.
   */
  setQueueSize(size: number): void {
    this.#queueSize = checkInteger('Limiter.setQueueSize: size', size, 0);
    this.#announce();
  }

  /**
   * Makes every live connection, and every one admitted from now on, retire after its current
   * exchange ({@link Token.retiring}: HTTP answers `Connection: close`), without closing the
   * idle ones: a load balancer may be sending a request on one of them this very moment, and a
   * request that meets a close is lost (a proxy does not retry a POST it has sent). Each closes
   * after its next exchange, or when the operator that admitted it is unsubscribed. It cannot
   * be undone. ({@link drain} does not use it: more new connections mean a longer accept queue
   * to reset when the listener closes.)
   */
  retireAfterExchanges(): void {
    this.#retiringAll = true;
  }

  /**
   * From now on, when an operator is unsubscribed (`serve`'s shutdown), its
   * idle connections are not closed at once: each is closed once it has stayed idle, nothing
   * received, for `ms` (checked every `ms`); busy ones still end after their exchange
   * (`Connection: close`). What {@link drain} sets behind a load balancer: under traffic a
   * balancer keeps reusing its idle connections (and each then ends after its response), so one
   * left unused that long is one it no longer chooses, and closing it races no request.
   *
   * @param ms How long an idle connection must stay unused, ms (an integer >= 1).
   */
  closeIdleAfter(ms: number): void {
    this.#idleGraceMs = checkInteger('Limiter.closeIdleAfter: ms', ms, 1);
  }

  /**
   * Records the remote address of every connection from now on, what
   * {@link Limiter.shedHeaviest} judges by (not by default: reading a socket's address costs a
   * system call). Recording goes on while any caller watches; {@link pauseUnderPressure}'s
   * `shedHeaviest` option watches while it is subscribed.
   *
   * @returns The function that stops this caller's watch.
   */
  watchArrivals(): () => void {
    return this.#shedding.watch();
  }

  /**
   * Under overload, refuses the clients that cause it first: from now until
   * {@link Limiter.stopShedding}, every new connection from the addresses that brought most of
   * the connections of the last second (each more than 1.5 times an equal share among the
   * addresses seen in the last 10 s, together more than half) is closed at once, before a byte
   * is read, and counted in `counts.droppedHeaviest`; everyone else is handled as usual. Called
   * again, it judges again. Returns those addresses; none, and nothing shed, when no address
   * stands out (connections spread evenly, fewer than 32 in the last second, arrivals not
   * watched): refuse everyone then (pause the listener).
   *
   * A single address seen, as a flood alone or one balancer in front without the PROXY
   * protocol, gets a look: it is refused for 30 ms (and returned; calls within the look say
   * the same), at most once a second, before the pause. A pause refuses in the kernel, unseen,
   * and resets the clients waiting in its accept queue, so a client queued behind a flood would
   * never be seen; the look takes the queue's connections instead, the flood's closed, the
   * others' admitted and recorded, and the next call judges again. It costs what the pause
   * would have reset plus 30 ms a second of new connections closed rather than refused (behind
   * a balancer: requests it cannot retry elsewhere; leave shedding off there).
   *
   * @returns The addresses now refused.
   */
  shedHeaviest(): readonly string[] {
    return this.#shedding.judge();
  }

  /** Ends {@link Limiter.shedHeaviest}'s refusals: the overload is over. */
  stopShedding(): void {
    this.#shedding.stop();
  }

  /**
   * Admits a socket now, or never: a token released when the socket closes; or, with every
   * slot taken or its address at `perPeer`, the socket destroyed and counted (`counts.dropped`,
   * `counts.droppedPerPeer`). It does not wait in the queue (that is {@link backpressure}'s
   * way in). A socket that closed already gets a released token and no slot.
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
   * `counts.dropped` or `counts.droppedPerPeer`). A socket that closed already gets a released
   * token and no slot. What {@link backpressure} calls for each connection.
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
    if (this.#shedding.watching && this.#shedding.refuses(socket.remoteAddress ?? '')) return this.#drop(socket, 'droppedHeaviest');
    if (this.#rates !== undefined && !this.#rates.take(this.#rateKey(socket.remoteAddress ?? ''))) return this.#drop(socket, 'droppedPerPeerRate', this.#onRateExceeded);
    const room = this.#live < this.#limit && this.#waiting.size === 0;
    if (!room && (!wait || this.#waiting.size >= this.#queueSize)) return this.#drop(socket, 'dropped');
    let peer: string | undefined;
    if (this.#peers !== undefined) {
      peer = socket.remoteAddress ?? '';
      if (!this.#peers.enter(peer)) return this.#drop(socket, 'droppedPerPeer');
    }
    if (room) {
      const token = this.#issue(socket, peer, owner);
      if (this.#live === this.#limit) this.#announce(); // pause first: it may fail
      owner.admitted(connection, token);
      return 'admitted';
    }
    this.#counts.queued++;
    this.#waiting.push(connection, owner as Admissions<never>, peer);
    this.#reclaimIdle();
    this.#announce();
    return 'queued';
  }

  /**
   * Ends what `owner` queued (each waiting socket destroyed) and retires its live
   * connections: those with a graceful retirement (HTTP/2 GOAWAY, a WebSocket close) and idle
   * ones now, busy ones as they go idle, and their tokens report {@link Token.retiring}.
   * Called when an operator is unsubscribed.
   *
   * @internal
   */
  withdraw(owner: object): void {
    this.#draining.add(owner);
    this.#drainingAny = true;
    this.#waiting.withdraw(owner as Admissions<never>);
    if (this.#idleGraceMs === 0) for (const token of this.#idle.ownedBy(owner)) this.#idle.close(token);
    else this.#sweepIdle();
    for (const token of [...this.#graceful]) if (token.owner === owner) retire(token);
    this.#announce();
  }

  /** Closes draining owners' idle connections once unused for `#idleGraceMs` (see closeIdleAfter). */
  #sweepIdle(): void {
    this.#idle.sweep(this.#draining, this.#idleGraceMs, this.#scheduler);
  }

  #issue(socket: Socket, peer: string | undefined, owner: object): SlotToken {
    this.#live++;
    const token = new SlotToken(this.#host, socket, peer, owner);
    // A socket carries one token; one admitted again after a release carries its new one.
    // Admitted by a second limiter too (rare): that one's token gets a listener of its own.
    const carried = tokens.get(socket);
    if (carried === undefined || carried.released) tokens.attach(socket, token);
    else socket.on('close', () => token.release());
    return token;
  }

  /** The bucket an address counts in: itself, or its IPv6 network (perPeerRate.ipv6Prefix). */
  #rateKey(address: string): string {
    return this.#rateBits === undefined ? address : ipv6Prefix(address, this.#rateBits);
  }

  /** Refuses a connection at once, counted; ended by `refuse` (`onExceeded` over the rate). */
  #drop(socket: Socket, counter: 'dropped' | 'droppedPerPeer' | 'droppedPerPeerRate' | 'droppedHeaviest', end = this.#refuse): 'dropped' {
    this.#counts[counter]++;
    endSocket(end, socket);
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
        next.owner.admitted(next.connection as never, this.#issue(next.connection.socket, next.peer, next.owner));
      }
    } finally {
      this.#admitting = false;
    }
  }

  /** A connection left the queue without a slot. */
  #depart(waiting: Waiting<WithSocket, Admissions<never>>, why: Departure): void {
    if (waiting.peer !== undefined) this.#peers!.leave(waiting.peer);
    const { socket } = waiting.connection;
    if (why === 'expired') {
      this.#counts.queueTimeouts++;
      try {
        this.#onQueueTimeout(socket);
      } catch (error) {
        socket.destroy();
        waiting.owner.failed(error);
      }
    } else {
      if (why === 'gone') this.#counts.gaveUp++;
      socket.destroy();
    }
    this.#announce();
  }

  /** With connections waiting and every slot taken, closes the connections idle the longest. */
  #reclaimIdle(): void {
    // Each turn takes the first idle token out of the pool (closed, or busy again).
    for (let token = this.#idle.first; token !== undefined; token = this.#idle.first) {
      if (this.#waiting.size === 0 || this.#live < this.#limit) return;
      if (this.#idle.close(token)) this.#counts.reclaimed++;
    }
  }

  /** Tells the operators when `refusing` has flipped. */
  #announce(): void {
    const refusing = this.refusing;
    if (refusing === this.#announcedRefusing) return;
    this.#announcedRefusing = refusing;
    this.#changes.next();
  }
}

function destroy(socket: Socket): void {
  socket.destroy();
}

function rethrow(error: unknown): never {
  throw error;
}
