import type { Socket } from 'node:net';
import type { SchedulerLike, Subscription } from 'rxjs';
import { LinkedList, type Links } from '../util/linkedList';
import { SocketRecords } from '../util/socketRecords';
import type { Admissions, WithSocket } from './admissions';
import type { Counts } from './counts';
import type { PeerPolicy } from './peerPolicy';

/**
 * The connections accepted while every slot is taken, first in first out: the backlog a listening
 * socket would hold, kept in the process so that the listener need not close (closing resets the
 * kernel's backlog). A waiting socket is left unread: it costs no CPU, and the server it is handed
 * to later reads the buffered request as if it had just arrived. One that waits `timeout` ms is
 * handed to `onTimeout`, so that the protocol can say why (an HTTP 503); others leaving are destroyed.
 */
export class WaitQueue {
  // The first entry has waited longest; a client leaving from the middle costs O(1).
  readonly #entries = new LinkedList<Waiting>();

  /** @param departed Called last for every connection that leaves without a slot. */
  constructor(
    private readonly timeout: number,
    private readonly scheduler: SchedulerLike,
    private readonly onTimeout: (socket: Socket) => void,
    private readonly counts: Counts,
    private readonly peers: Pick<PeerPolicy, 'leave'>,
    private readonly departed: () => void,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  /** Queues a connection at the back; `peer`: its address where a per-peer limit counts it. */
  push(connection: WithSocket, owner: Admissions<never>, peer: string | undefined): void {
    const entry = new Waiting(connection, owner, peer, this, this.scheduler.now());
    this.#entries.push(entry);
    if (this.timeout !== Infinity) entry.timer = this.scheduler.schedule(() => this.depart(entry, 'expired'), this.timeout);
  }

  /** Takes the connection that has waited longest, to be admitted: counted, with its wait. */
  shift(): Waiting | undefined {
    const first = this.#entries.first;
    if (first === undefined) return undefined;
    this.#remove(first);
    this.counts.admittedFromQueue++;
    this.counts.queueWait.record((this.scheduler.now() - first.since) / 1000);
    return first;
  }

  /** Ends every connection `owner` queued (its operator was unsubscribed). */
  withdraw(owner: object): void {
    for (const entry of this.#entries.toArray()) if (entry.owner === owner) this.depart(entry, 'withdrawn');
  }

  /** A connection leaves without a slot ('gone': its client gave up): its per-peer count given back, ended, counted. */
  depart(entry: Waiting, why: 'gone' | 'expired' | 'withdrawn'): void {
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

  #remove(entry: Waiting): boolean {
    if (!this.#entries.remove(entry)) return false;
    entry.timer?.unsubscribe();
    waiting.detach(entry.connection.socket); // the socket left as it was found, for whoever gets it next
    return true;
  }

}

/** One connection waiting for a slot; `since`: when it was queued, on the queue's scheduler (ms). */
class Waiting implements Links<Waiting> {
  timer: Subscription | undefined;
  prev: Waiting | undefined = undefined;
  next: Waiting | undefined = undefined;

  constructor(
    readonly connection: WithSocket,
    readonly owner: Admissions<never>,
    readonly peer: string | undefined,
    readonly queue: WaitQueue,
    readonly since: number,
  ) {
    waiting.attach(connection.socket, this);
  }
}

/**
 * A waiting socket's entry, told of the client giving up: 'close'; or 'end', which an unread socket
 * emits only if the client sent nothing (one that sent a request and half-closed keeps its place).
 * 'error': a reset must not crash the process for want of a listener.
 */
const waiting = new SocketRecords<Waiting>('waiting', {
  close: (entry) => entry.queue.depart(entry, 'gone'),
  end: (entry) => entry.queue.depart(entry, 'gone'),
  error: ignore,
});

function ignore(): void {}
