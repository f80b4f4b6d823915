import { Subject, type Observable } from 'rxjs';
import type { Socket } from 'node:net';
import { checkInteger } from './validate';

/**
 * One admitted connection's slot under a {@link Limiter}. It is released when its socket
 * closes, or explicitly; releasing twice frees one slot only.
 */
export interface Token {
  release(): void;
  readonly released: boolean;
}

// Lets a token free its slot without making that part of the Limiter's public API.
let releaseSlot: (limiter: Limiter) => void;

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
  readonly #changes = new Subject<void>();

  /**
   * Emits when {@link Limiter.full} may have changed: the limit was set, or a connection was
   * admitted or released at the boundary. (Not on every admission: that is the accept path.)
   */
  readonly changes: Observable<void> = this.#changes.asObservable();

  /** @param limit The most live connections, an integer >= 1. */
  constructor(limit: number) {
    this.#limit = checkInteger('Limiter: limit', limit, 1);
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
    if (this.full) {
      this.#dropped++;
      socket.destroy();
      return undefined;
    }
    this.#active++;
    const token = new SlotToken(this);
    // One shared listener and a symbol on the socket, not a closure per connection: the
    // accept path stays lean and a live connection holds a few bytes more, not a few hundred.
    (socket as TokenHolder)[TOKEN] = token;
    socket.on('close', releaseOnClose);
    if (this.#active === this.#limit) this.#changes.next();
    return token;
  }

  /** Called by a token on its first release. */
  #release(): void {
    this.#active--;
    if (this.#active === this.#limit - 1) this.#changes.next();
  }

  static {
    releaseSlot = (limiter) => limiter.#release();
  }
}


class SlotToken implements Token {
  #limiter: Limiter | undefined;

  constructor(limiter: Limiter) {
    this.#limiter = limiter;
  }

  get released(): boolean {
    return this.#limiter === undefined;
  }

  release(): void {
    const limiter = this.#limiter;
    if (limiter === undefined) return;
    this.#limiter = undefined;
    releaseSlot(limiter);
  }
}

const TOKEN = Symbol('rxjs-listen token');
type TokenHolder = Socket & { [TOKEN]?: Token };

function releaseOnClose(this: TokenHolder): void {
  this[TOKEN]?.release();
}
