import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { Socket } from 'node:net';
import { checkFunction, checkInteger, checkKnownOptions, checkNumber, checkOptions } from '../util/validate';

/** A per-address connection rate ({@link index!LimiterOptions.perPeerRate}). */
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

/** Options of a {@link index!Limiter}. */
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
   * HTTP, {@link index!serviceUnavailable} answers `503` with `Retry-After`.
   */
  onQueueTimeout?: (socket: Socket) => void;
  /**
   * The longest a request should wait for the event loop, in ms. The loop handles every
   * request that is ready when it polls in one turn, one after another: once it has worked
   * `maxWaitMs` into a turn, the rest of that turn's requests have waited at least as long,
   * and are answered at once that the server is overloaded (HTTP/1: `503` with `Retry-After`,
   * the connection kept open; counted in `counts.shedRequests`) instead of waiting longer for
   * their handlers. Served requests then wait at most about twice this. Judged by
   * {@link index!Token.tryBusy}, which {@link index!handTo} calls for every HTTP/1 request. Default: none
   * (`Infinity`).
   */
  maxWaitMs?: number;
  /**
   * Ends a connection refused at once: over the limit with the queue full, over `perPeer`, or
   * shed under overload ({@link index!Limiter.shedHeaviest}). Default: `socket.destroy()`, which a
   * client that has sent its request meets as a reset and cannot tell from a failure after its
   * request was done. For plain HTTP, {@link index!serviceUnavailable} answers `503` with
   * `Retry-After` instead. An exception it throws destroys the socket.
   */
  refuse?: (socket: Socket) => void;
  /** Where queue timeouts are timed. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** {@link index!PerPeerRate}, checked, its defaults filled in. */
export interface PeerRateSettings {
  readonly rate: number;
  readonly burst: number;
  readonly maxAddresses: number;
  readonly onExceeded: (socket: Socket) => void;
  /** `undefined`: every address its own bucket. */
  readonly ipv6Prefix: number | undefined;
}

/** {@link index!LimiterOptions}, checked, their defaults filled in: what a {@link index!Limiter} is built from. */
export interface LimiterSettings {
  /** `undefined`: no per-peer limit. */
  readonly perPeer: number | undefined;
  /** `undefined`: no rate limit. */
  readonly perPeerRate: PeerRateSettings | undefined;
  readonly queueSize: number;
  /** ms; `Infinity`: no timeout. */
  readonly queueTimeout: number;
  readonly onQueueTimeout: (socket: Socket) => void;
  /** ms; `Infinity`: no bound. */
  readonly maxWaitMs: number;
  readonly refuse: (socket: Socket) => void;
  readonly scheduler: SchedulerLike;
}

const KNOWN: ReadonlyArray<keyof LimiterOptions> = ['perPeer', 'perPeerRate', 'queueSize', 'queueTimeout', 'onQueueTimeout', 'maxWaitMs', 'refuse', 'scheduler'];

/**
 * A {@link index!Limiter}'s options, checked and defaulted when it is made.
 *
 * Throws a `TypeError` or a `RangeError` naming the option and the value, and on an option it
 * does not know (a misspelt one would be ignored silently).
 *
 * @example
 * settleLimiterOptions({ queueSize: -1 });
 * // RangeError: Limiter: options.queueSize must be an integer >= 0, got -1
 *
 * @param options As given to the Limiter.
 * @returns Every option, checked, with its default where it was not given.
 */
export function settleLimiterOptions(options: LimiterOptions): LimiterSettings {
  checkKnownOptions('Limiter: options', options, KNOWN);
  const { perPeer, queueSize = 511, queueTimeout = 10_000, onQueueTimeout = destroy, maxWaitMs = Infinity, scheduler = asyncScheduler } = options;
  if (perPeer !== undefined) checkInteger('Limiter: options.perPeer', perPeer, 1);
  checkInteger('Limiter: options.queueSize', queueSize, 0);
  if (queueTimeout !== Infinity) checkInteger('Limiter: options.queueTimeout', queueTimeout, 1);
  checkFunction('Limiter: options.onQueueTimeout', onQueueTimeout);
  const refuse = checkFunction('Limiter: options.refuse', options.refuse ?? destroy);
  if (maxWaitMs !== Infinity) checkInteger('Limiter: options.maxWaitMs', maxWaitMs, 1);
  const perPeerRate = options.perPeerRate === undefined ? undefined : settlePeerRate(options.perPeerRate);
  return { perPeer, perPeerRate, queueSize, queueTimeout, onQueueTimeout, maxWaitMs, refuse, scheduler };
}

/** {@link index!LimiterOptions.perPeerRate}, checked and defaulted. */
function settlePeerRate(rate: PerPeerRate): PeerRateSettings {
  checkOptions('Limiter: options.perPeerRate', rate);
  checkNumber('Limiter: options.perPeerRate.rate', rate.rate, { above: 0 });
  const burst = rate.burst === undefined ? Math.ceil(rate.rate) : checkInteger('Limiter: options.perPeerRate.burst', rate.burst, 1);
  const maxAddresses = rate.maxAddresses === undefined ? 100_000 : checkInteger('Limiter: options.perPeerRate.maxAddresses', rate.maxAddresses, 1);
  const onExceeded = rate.onExceeded === undefined ? destroy : checkFunction('Limiter: options.perPeerRate.onExceeded', rate.onExceeded);
  const ipv6Prefix = rate.ipv6Prefix === undefined ? undefined : checkInteger('Limiter: options.perPeerRate.ipv6Prefix', rate.ipv6Prefix, 1, 128);
  return { rate: rate.rate, burst, maxAddresses, onExceeded, ipv6Prefix };
}

/** The default end of a refused or timed-out connection. */
function destroy(socket: Socket): void {
  socket.destroy();
}
