import { Histogram, type HistogramData } from '../util/histogram';

/** What a {@link Limiter} has counted since it was made; every figure only grows. */
export interface LimiterCounts {
  /** Connections closed at once: every slot taken and the queue full (or no waiting allowed). */
  readonly dropped: number;
  /** Connections closed at once because their remote address held `perPeer` already. */
  readonly droppedPerPeer: number;
  /** Connections closed at once (or handed to `onExceeded`) because their address was over `perPeerRate`. */
  readonly droppedPerPeerRate: number;
  /** Connections closed at once under overload because their address brought most of the new ones ({@link index!Limiter.shedHeaviest}). */
  readonly droppedHeaviest: number;
  /** Connections that have had to wait for a slot. */
  readonly queued: number;
  /** Connections admitted after waiting. */
  readonly admittedFromQueue: number;
  /** Connections that waited `queueTimeout` ms and were handed to `onQueueTimeout`. */
  readonly queueTimeouts: number;
  /** Connections whose client gave up while waiting (reset, or closed before sending). */
  readonly gaveUp: number;
  /** Idle connections closed to admit a waiting one. */
  readonly reclaimed: number;
  /**
   * Requests answered at once that the server is overloaded (HTTP `503`), their handler never run, their
   * connection kept open: at {@link index!Limiter.exchangeLimit}, or the loop's turn past `maxWaitMs`.
   */
  readonly shedRequests: number;
  /**
   * Exchanges completed (ended by {@link index!Token.idle}, or by the connection's end while busy):
   * what {@link overload!serviceTimeMs} divides by.
   */
  readonly completed: number;
  /** How long the connections admitted from the queue waited there, in seconds. */
  readonly queueWait: HistogramData;
}

/** The limiter's own, writable counters: a class, so every limiter's have one shape. */
export class Counts implements LimiterCounts {
  dropped = 0;
  droppedPerPeer = 0;
  droppedPerPeerRate = 0;
  droppedHeaviest = 0;
  queued = 0;
  admittedFromQueue = 0;
  queueTimeouts = 0;
  gaveUp = 0;
  reclaimed = 0;
  shedRequests = 0;
  completed = 0;
  readonly queueWait = new Histogram();
}

/** The counters of connections refused at once, each with its reason. */
export type Refusal = 'dropped' | 'droppedPerPeer' | 'droppedPerPeerRate' | 'droppedHeaviest';
