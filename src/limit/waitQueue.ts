import type { Socket } from 'node:net';
import type { SchedulerLike, Subscription } from 'rxjs';
import { LinkedList, type Links } from '../util/linkedList';
import { SocketRecords } from '../util/socketRecords';
import type { Counts } from './counts';

/** One connection waiting for a slot, with what it needs to be admitted or ended later. */
export interface Waiting<C extends { readonly socket: Socket } = { readonly socket: Socket }, O = unknown> {
  readonly connection: C;
  /** Who queued it: the one told when it is admitted. */
  readonly owner: O;
  /** Its remote address when a per-peer limit counts it; released with it. */
  readonly peer: string | undefined;
  /** When it was queued, on the queue's scheduler (ms). */
  readonly since: number;
}

/** Why a connection left the queue without being admitted. */
export type Departure = 'gone' | 'expired' | 'withdrawn';

/** Who queues a connection: told if its `onQueueTimeout` hook throws. */
export interface QueueOwner {
  /** An `onQueueTimeout` hook threw while ending one of this owner's waiting connections. */
  failed(error: unknown): void;
}

/** Where the per-peer counts of waiting connections are given back ({@link PeerPolicy}). */
export interface PeerLeaving {
  /** A connection counted under `peer` has gone. */
  leave(peer: string): void;
}

/**
 * The connections accepted while every slot is taken, first in first out: the backlog a
 * listening socket would hold, kept in the process so that the listener need not close
 * (closing resets the kernel's backlog). A waiting socket is left untouched, as accepted: it
 * reads at most its stream's high-water mark into memory and costs no CPU, and a server it is
 * handed to later reads the buffered request as if it had just arrived.
 *
 * A client that gives up while waiting (a reset, or a close before sending anything) leaves
 * the queue at once, and one that waits longer than `timeout` ms is handed to `onTimeout`,
 * so that the protocol can say why (an HTTP 503) instead of a bare close. Every other one that
 * leaves without a slot is destroyed. Each departure is counted (`queueTimeouts`, `gaveUp`).
 */
export class WaitQueue<C extends { readonly socket: Socket }, O extends QueueOwner> {
  // The first entry is the one that has waited longest; a client leaving from the middle costs O(1).
  readonly #entries = new LinkedList<Entry<C, O>>();

  /**
   * @param timeout How long one may wait, in ms (`Infinity`: no limit).
   * @param scheduler Where timeouts are timed.
   * @param onTimeout Ends a connection that waited `timeout` ms.
   * @param counts Where departures are counted.
   * @param peers Where a departing connection's per-peer count is given back, first.
   * @param departed Called last for every connection that leaves without a slot.
   */
  constructor(
    private readonly timeout: number,
    private readonly scheduler: SchedulerLike,
    private readonly onTimeout: (socket: Socket) => void,
    private readonly counts: Counts,
    private readonly peers: PeerLeaving,
    private readonly departed: () => void,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  /** The time on the queue's scheduler (what `since` is read on), ms. */
  now(): number {
    return this.scheduler.now();
  }

  /** Queues a connection at the back. */
  push(connection: C, owner: O, peer: string | undefined): void {
    const entry = new Entry(connection, owner, peer, this, this.scheduler.now());
    this.#entries.push(entry);
    if (this.timeout !== Infinity) entry.timer = this.scheduler.schedule(() => this.#depart(entry, 'expired'), this.timeout);
  }

  /** Takes the connection that has waited longest, ready to be admitted. */
  shift(): Waiting<C, O> | undefined {
    const first = this.#entries.first;
    if (first !== undefined) this.#remove(first);
    return first;
  }

  /** Ends every connection `owner` queued (its operator was unsubscribed). */
  withdraw(owner: O): void {
    for (const entry of this.#entries.toArray()) if (entry.owner === owner) this.#depart(entry, 'withdrawn');
  }

  /** Called by an entry whose socket closed or ended while it waited. */
  gone(entry: Entry<C, O>): void {
    this.#depart(entry, 'gone');
  }

  /** A connection leaves without a slot: its per-peer count given back, ended, counted. */
  #depart(entry: Entry<C, O>, why: Departure): void {
    if (!this.#remove(entry)) return;
    if (entry.peer !== undefined) this.peers.leave(entry.peer);
    const { socket } = entry.connection;
    if (why === 'expired') {
      this.counts.queueTimeouts++;
      try {
        this.onTimeout(socket);
      } catch (error) {
        socket.destroy();
        entry.owner.failed(error);
      }
    } else {
      if (why === 'gone') this.counts.gaveUp++;
      socket.destroy();
    }
    this.departed();
  }

  #remove(entry: Entry<C, O>): boolean {
    if (!this.#entries.remove(entry)) return false;
    entry.timer?.unsubscribe();
    entry.unwatch();
    return true;
  }
}

/** A queued connection: watches its socket for the client giving up. */
class Entry<C extends { readonly socket: Socket }, O extends QueueOwner> implements Waiting<C, O>, Links<Entry<C, O>> {
  timer: Subscription | undefined;
  prev: Entry<C, O> | undefined = undefined;
  next: Entry<C, O> | undefined = undefined;

  constructor(
    readonly connection: C,
    readonly owner: O,
    readonly peer: string | undefined,
    readonly queue: WaitQueue<C, O>,
    readonly since: number,
  ) {
    waiting.attach(connection.socket, this as AnyEntry);
  }

  /** Leaves the socket as it was found, for whoever gets it next. */
  unwatch(): void {
    waiting.detach(this.connection.socket);
  }
}

type AnyEntry = Entry<{ readonly socket: Socket }, QueueOwner>;

/**
 * A waiting socket's entry, told of the client giving up: 'close'; or 'end', which a stream
 * emits only once everything before the FIN has been read: nothing reads a waiting socket, so
 * it comes only from a client that closed without sending anything (one that sent a request
 * and half-closed still wants its answer, and keeps its place). 'error': a reset while waiting
 * must not crash the process for want of a listener ('close' follows).
 */
const waiting = new SocketRecords<AnyEntry>('waiting', {
  close: (entry) => entry.queue.gone(entry),
  end: (entry) => entry.queue.gone(entry),
  error: ignore,
});

function ignore(): void {}
