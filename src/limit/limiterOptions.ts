import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { Socket } from 'node:net';
import { checkFunction, checkInteger, checkKnownOptions, checkNumber, checkOptions } from '../util/validate';

/** A per-address connection rate ({@link index!LimiterOptions.perPeerRate}). */
export interface PerPeerRate {
  /** New connections per second, after the burst: a number > 0. */
  readonly rate: number;
  /** New connections at once: an integer >= 1. Default: `rate`, rounded up. */
  readonly burst?: number;
  /** The most addresses remembered (about 100 B each; full buckets forgotten first), an integer >= 1. Default 100 000. */
  readonly maxAddresses?: number;
  /** Ends a connection over the rate. Default: `socket.destroy()`. */
  readonly onExceeded?: (socket: Socket) => void;
  /**
   * Counts IPv6 clients by network: addresses sharing their first `ipv6Prefix` bits (1 to 128; one host
   * commonly holds a /64) share a bucket; IPv4 ones count one by one. Default: every address its own.
   */
  readonly ipv6Prefix?: number;
}

/** Options of a {@link index!Limiter}. */
export interface LimiterOptions {
  /**
   * The most live connections from one remote address, counting those waiting (nginx's `limit_conn`).
   * Connections over it are closed at once (`counts.droppedPerPeer`), the listener not paused. Default: none.
   */
  perPeer?: number;
  /**
   * New connections per second from one remote address, a token bucket each, checked before a byte is read.
   * Connections over it are handed to `onExceeded` (`counts.droppedPerPeerRate`), never wait or pause. Default: none.
   */
  perPeerRate?: PerPeerRate;
  /**
   * How many connections may wait, first in first out, while every slot is taken; the listener pauses only
   * when the queue is full too. Default 511: Node's default listen backlog, so a burst waits here instead. 0: none wait.
   */
  queueSize?: number;
  /**
   * How long a connection may wait for a slot, in ms, before it is handed to `onQueueTimeout`.
   * Default 10 000: a queue that has not moved for that long is overload, not a burst. `Infinity`: no limit.
   */
  queueTimeout?: number;
  /** Ends a connection that waited `queueTimeout` ms. Default: `socket.destroy()`; {@link index!serviceUnavailable} answers `503`. */
  onQueueTimeout?: (socket: Socket) => void;
  /**
   * The longest a request should wait for the event loop, in ms: those a loop turn reaches later are
   * answered at once that the server is overloaded (HTTP/1: `503`, `counts.shedRequests`), so served ones
   * wait at most about twice this; while the accept streak (`acceptQueueMs`) is longer than this, a turn
   * runs a sixth of it. Judged by {@link index!Token.tryBusy}. Default: none (`Infinity`).
   */
  maxWaitMs?: number;
  /**
   * Ends a connection refused at once: over the limit with the queue full, over `perPeer`, or
   * shed ({@link index!Limiter.shedHeaviest}). Default: `socket.destroy()`, a reset to the client;
   * for plain HTTP, {@link index!serviceUnavailable} answers `503` instead. If it throws, the socket is destroyed.
   */
  refuse?: (socket: Socket) => void;
  /** Where queue timeouts are timed. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** {@link index!PerPeerRate}, checked, its defaults filled in. */
export type PeerRateSettings = Required<Omit<PerPeerRate, 'ipv6Prefix'>> & Pick<PerPeerRate, 'ipv6Prefix'>;

const KNOWN: ReadonlyArray<keyof LimiterOptions> = ['perPeer', 'perPeerRate', 'queueSize', 'queueTimeout', 'onQueueTimeout', 'maxWaitMs', 'refuse', 'scheduler'];

/** A {@link index!Limiter}'s options, checked (an unknown one too: a misspelt one would be ignored) and defaulted. */
export function settleLimiterOptions(options: LimiterOptions) {
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

function settlePeerRate(rate: PerPeerRate): PeerRateSettings {
  checkOptions('Limiter: options.perPeerRate', rate);
  checkNumber('Limiter: options.perPeerRate.rate', rate.rate, { above: 0 });
  const burst = rate.burst === undefined ? Math.ceil(rate.rate) : checkInteger('Limiter: options.perPeerRate.burst', rate.burst, 1);
  const maxAddresses = rate.maxAddresses === undefined ? 100_000 : checkInteger('Limiter: options.perPeerRate.maxAddresses', rate.maxAddresses, 1);
  const onExceeded = rate.onExceeded === undefined ? destroy : checkFunction('Limiter: options.perPeerRate.onExceeded', rate.onExceeded);
  const ipv6Prefix = rate.ipv6Prefix === undefined ? undefined : checkInteger('Limiter: options.perPeerRate.ipv6Prefix', rate.ipv6Prefix, 1, 128);
  return { rate: rate.rate, burst, maxAddresses, onExceeded, ipv6Prefix };
}

function destroy(socket: Socket): void {
  socket.destroy();
}
