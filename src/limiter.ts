import { Subject, type Observable } from 'rxjs';
import type { Socket } from 'node:net';
import { checkInteger } from './validate';

/**
 * One admitted connection's slot under a {@link Limiter}. It is released when its socket
 * closes, or explicitly; releasing twice frees one slot only.
 */
export interface Token {
  /** Frees the slot (once; later calls do nothing). The socket stays open. */
  release(): void;
  /** Whether the slot has been freed. */
  readonly released: boolean;
}

// Lets a token free its slot without making that part of the Limiter's public API.
let releaseSlot: (limiter: Limiter, peer: string | undefined) => void;

/** Options of a {@link Limiter}. */
export interface LimiterOptions {
  /**
   * The most live connections from one remote address (nginx's `limit_conn`), so that one
   * client cannot take every slot. Connections over it are closed at once and counted in
   * {@link Limiter.droppedPerPeer}; they do not pause the listener, so others still get in.
   * Default: no per-peer limit.
   */
  perPeer?: number;
}

/**
 * Counts live connections against a limit that can change while the server runs
 * (async-listen's `set_limit` / `get_active_tokens`). Share one between several listeners to
 * give them a common limit. Lowering the limit never touches live connections: new ones wait
 * until enough of them have gone.
 */
export class Limiter {
  #limit: number;
  #active = 0;
  #dropped = 0;
  #droppedPerPeer = 0;
  readonly #perPeer: number;
  // Live connections per remote address; an address leaves the map with its last connection.
  readonly #peers = new Map<string, number>();
  readonly #changes = new Subject<void>();

  /**
   * Emits when {@link Limiter.full} may have changed: the limit was set, or a connection was
   * admitted or released at the boundary. (Not on every admission: that is the accept path.)
   */
  readonly changes: Observable<void> = this.#changes.asObservable();

  /**
   * @param limit The most live connections, an integer >= 1.
   * @param options A per-peer limit.
   */
  constructor(limit: number, options: LimiterOptions = {}) {
    this.#limit = checkInteger('Limiter: limit', limit, 1);
    this.#perPeer = options.perPeer === undefined ? Infinity : checkInteger('Limiter: options.perPeer', options.perPeer, 1);
  }

  /** Connections closed at once because their remote address held `perPeer` already. */
  get droppedPerPeer(): number {
    return this.#droppedPerPeer;
  }

  /** Live connections from one remote address. */
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

  /** Connections that arrived over the limit and were closed at once. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Whether the next connection would exceed the limit. */
  get full(): boolean {
    return this.#active >= this.#limit;
  }

  /** Changes the limit; live connections stay even if there are more than the new limit. */
  setLimit(limit: number): void {
    this.#limit = checkInteger('Limiter.setLimit: limit', limit, 1);
    this.#changes.next();
  }

  /**
   * Admits a socket: a token released when the socket closes. Over the limit, the socket is
   * destroyed and counted in {@link Limiter.dropped} instead.
   *
   * @returns The token, or `undefined` when the socket was dropped.
   */
  admit(socket: Socket): Token | undefined {
    // A socket that closed before admission (an asynchronous operator upstream) would never
    // emit 'close' again to free a slot: it gets none.
    if (socket.closed) return GONE;
    if (this.full) {
      this.#dropped++;
      socket.destroy();
      return undefined;
    }
    let peer: string | undefined;
    if (this.#perPeer !== Infinity) {
      peer = socket.remoteAddress ?? '';
      const live = this.#peers.get(peer) ?? 0;
      if (live >= this.#perPeer) {
        this.#droppedPerPeer++;
        socket.destroy();
        return undefined;
      }
      this.#peers.set(peer, live + 1);
    }
    this.#active++;
    const token = new SlotToken(this, peer);
    socket.on('close', token.onClose);
    if (this.#active === this.#limit) this.#changes.next();
    return token;
  }

  /** Called by a token on its first release. */
  #release(peer: string | undefined): void {
    if (peer !== undefined) {
      const live = this.#peers.get(peer)! - 1;
      if (live === 0) this.#peers.delete(peer);
      else this.#peers.set(peer, live);
    }
    this.#active--;
    if (this.#active === this.#limit - 1) this.#changes.next();
  }

  static {
    releaseSlot = (limiter, peer) => limiter.#release(peer);
  }
}

/** A live connection's slot: frees it once, on its socket's close or an explicit release. */
class SlotToken implements Token {
  #limiter: Limiter | undefined;
  readonly #peer: string | undefined;

  constructor(limiter: Limiter, peer: string | undefined) {
    this.#limiter = limiter;
    this.#peer = peer;
  }

  get released(): boolean {
    return this.#limiter === undefined;
  }

  /**
   * The socket's 'close' listener, a closure per token. Storing the token on the socket
   * under a symbol (one shared listener) measured both slower, by several µs per connection,
   * and larger, by ~130 B: a property added to a Socket changes its shape.
   */
  readonly onClose = (): void => this.release();

  release(): void {
    const limiter = this.#limiter;
    if (limiter === undefined) return;
    this.#limiter = undefined;
    releaseSlot(limiter, this.#peer);
  }
}

const GONE: Token = Object.freeze({ release: () => undefined, released: true });
