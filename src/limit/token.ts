import type { Socket } from 'node:net';
import type { Links } from '../util/linkedList';
import { SocketRecords } from '../util/socketRecords';

/**
 * One admitted connection's slot under a {@link Limiter}. It is released when its socket
 * closes, or explicitly; releasing twice frees one slot only.
 *
 * A protocol that knows when a connection sits between exchanges (HTTP keep-alive between
 * requests) marks each exchange with {@link Token.busy} and {@link Token.idle}: when the limit
 * is full and a connection waits, the limiter closes the connection idle the longest to admit
 * it (nginx does the same with idle keep-alive connections), and during shutdown it closes
 * connections as they go idle. A connection is busy from admission until first marked idle, so
 * one whose first request is still unread is never taken for idle. {@link handTo} marks HTTP/1
 * connections.
 */
export interface Token {
  /** Frees the slot (once; later calls do nothing). The socket stays open. */
  release(): void;
  /** Whether the slot has been freed. */
  readonly released: boolean;
  /**
   * Ends an exchange: when none is left in flight, the connection is idle and may be closed to
   * admit a waiting connection (longest idle first), or at shutdown. It is closed gracefully
   * (`socket.destroySoon()`: what was written is flushed first), and never if bytes arrived
   * since it went idle (a request on its way). Without a matching {@link Token.busy}, it marks
   * the connection idle.
   */
  idle(): void;
  /**
   * Begins an exchange (a request arrived): the connection is not closed to admit others until
   * as many {@link Token.idle} calls have ended its exchanges (HTTP/1 pipelining and HTTP/2
   * streams overlap).
   */
  busy(): void;
  /**
   * Begins an exchange, as {@link Token.busy}, if the limiter admits one now; otherwise marks
   * nothing, counts it in `shedRequests`, and returns false: the process is overloaded (the
   * limiter's {@link Limiter.exchangeLimit} or `maxWaitMs`), and the exchange should be
   * answered so at once, without running its handler (HTTP: `503` with `Retry-After`, as
   * {@link handTo} does). The connection stays open for the client's next request.
   *
   * @returns Whether the exchange began.
   */
  tryBusy(): boolean;
  /**
   * Whether this connection should end after its current exchange, because connections wait
   * for a slot, or the server drains or shuts down. An HTTP server answers with `Connection: close`
   * (as {@link handTo} does), which ends the connection without the keep-alive race.
   */
  readonly retiring: boolean;
  /**
   * Sets how to retire this connection in its own protocol's way, instead of closing its
   * socket: HTTP/2 sends GOAWAY (`session.close()`), a WebSocket a close frame 1001, TLS a
   * close_notify. The limiter retires an idle connection to admit a waiting one, and retires
   * connections at shutdown (see {@link Token.idle}).
   *
   * `graceful`: the retirement itself tells the client to start nothing new and lets what is
   * in flight finish (GOAWAY, a close frame), so the connection is retired even if bytes
   * arrived since it went idle (pings, window updates), and at shutdown at once, busy or not.
   * Without it, an idle connection that received bytes is taken for busy (a request on its
   * way, as with HTTP/1 keep-alive), and a busy one is retired when it goes idle.
   *
   * @param retire Closes the connection gracefully; called at most once.
   * @param graceful Whether `retire` is safe while exchanges are in flight. Default false.
   */
  retireWith(retire: () => void, graceful?: boolean): void;
  /**
   * What the connection speaks, as its handler says: `'http/1.1'`, `'https'`, `'h2'`, `'tls'`,
   * ... ({@link handTo} sets it). Labels the idle connections in {@link Limiter.idleByProtocol}
   * and the metrics. Default `'tcp'`.
   */
  protocol: string;
}

/**
 * What a token needs of the limiter that issued it: the narrow way back, instead of the
 * limiter's private state. Each call is made once per event (a release, an exchange's end).
 */
export interface TokenHost {
  /** The token's slot is free. */
  released(token: SlotToken): void;
  /** The connection has no exchange in flight: mark it idle (`exchanges = -1`). */
  wentIdle(token: SlotToken): void;
  /** The connection began an exchange, fresh or idle. */
  wentBusy(token: SlotToken): void;
  /** Whether a new exchange may begin on the connection now (and counts it if not). */
  admitsExchange(token: SlotToken): boolean;
  /** Whether the connection should end after its current exchange. */
  retiring(token: SlotToken): boolean;
  /** The connection may be retired at any time (see {@link Token.retireWith}). */
  retiresGracefully(token: SlotToken): void;
}

/**
 * What a connection speaks and how it retires. One object per protocol is shared by every
 * connection that retires by closing its socket (HTTP/1: most of them); a connection that
 * retires in its protocol's own way has its own. One field on the token for all three: the
 * token lives as long as its connection, and every field costs each live connection 8 bytes.
 */
class Style {
  constructor(
    readonly protocol: string,
    readonly retire: (() => void) | undefined,
    readonly graceful: boolean,
  ) {}
}

const styles = new Map<string, Style>();
// The style looked up last: a server's connections all speak one protocol, set once each.
let last: Style | undefined;

/** The shared style of a protocol whose connections retire by closing. */
function plain(protocol: string): Style {
  if (last?.protocol === protocol) return last;
  let style = styles.get(protocol);
  if (style === undefined) styles.set(protocol, (style = new Style(protocol, undefined, false)));
  return (last = style);
}

const TCP = plain('tcp');

/** A live connection's slot: frees it once, on its socket's close or an explicit release. */
export class SlotToken implements Token, Links<SlotToken> {
  #host: TokenHost | undefined;
  /** Links in the limiter's idle pool. */
  prev: SlotToken | undefined = undefined;
  next: SlotToken | undefined = undefined;
  /** `socket.bytesRead` when last marked idle: more since means a request is on its way. */
  readAtIdle = 0;
  /**
   * Exchanges in flight (`busy()` calls not yet matched by `idle()`), or -1 between exchanges.
   * A fresh connection has 0: busy from admission until its first exchange ends.
   */
  exchanges = 0;
  #style: Style = TCP;

  /**
   * @param host The limiter that issued it.
   * @param socket The connection's socket.
   * @param peer Its remote address where a per-peer limit counts it.
   * @param owner Who admitted it (an operator): its withdrawal retires the connection.
   */
  constructor(
    host: TokenHost,
    readonly socket: Socket,
    readonly peer: string | undefined,
    readonly owner: object,
  ) {
    this.#host = host;
  }

  get released(): boolean {
    return this.#host === undefined;
  }

  get retiring(): boolean {
    return this.#host !== undefined && this.#host.retiring(this);
  }

  /** Between exchanges. */
  get isIdle(): boolean {
    return this.exchanges < 0;
  }

  get protocol(): string {
    return this.#style.protocol;
  }

  set protocol(protocol: string) {
    const { retire, graceful } = this.#style;
    this.#style = retire === undefined ? plain(protocol) : new Style(protocol, retire, graceful);
  }

  /** How to retire the connection; without one its socket is closed (`destroySoon()`). */
  get retire(): (() => void) | undefined {
    return this.#style.retire;
  }

  /** Whether `retire` may run while exchanges are in flight. */
  get graceful(): boolean {
    return this.#style.graceful;
  }

  release(): void {
    const host = this.#host;
    if (host === undefined) return;
    this.#host = undefined;
    host.released(this);
  }

  idle(): void {
    if (this.exchanges > 1) return void this.exchanges--;
    if (this.#host !== undefined) this.#host.wentIdle(this);
  }

  busy(): void {
    if (this.exchanges > 0) return void this.exchanges++;
    this.exchanges = 1;
    if (this.#host !== undefined) this.#host.wentBusy(this);
  }

  tryBusy(): boolean {
    if (this.#host !== undefined && !this.#host.admitsExchange(this)) return false;
    this.busy();
    return true;
  }

  retireWith(retire: () => void, graceful = false): void {
    this.#style = new Style(this.#style.protocol, retire, graceful);
    if (graceful && this.#host !== undefined) this.#host.retiresGracefully(this);
  }
}

/**
 * The token an admitted socket carries: {@link handTo} reads it on every request, and one
 * shared 'close' listener releases it.
 */
export const tokens = new SocketRecords<Token>('token', { close: (token) => token.release() });

/**
 * A new token for an admitted socket, released when the socket closes.
 *
 * @param host The limiter that issues it.
 * @param socket The connection's socket.
 * @param peer Its remote address where a per-peer limit counts it.
 * @param owner Who admitted it.
 * @returns The token.
 */
export function issueToken(host: TokenHost, socket: Socket, peer: string | undefined, owner: object): SlotToken {
  const token = new SlotToken(host, socket, peer, owner);
  // A socket carries one token; one admitted again after a release carries its new one.
  // Admitted by a second limiter too (rare): that one's token gets a listener of its own.
  const carried = tokens.get(socket);
  if (carried === undefined || carried.released) tokens.attach(socket, token);
  else socket.on('close', () => token.release());
  return token;
}

/** The token of a socket closed before admission: no slot, nothing to release. */
export const GONE: Token = Object.freeze({ release: noop, idle: noop, busy: noop, tryBusy: () => true, retireWith: noop, released: true, retiring: false, protocol: 'tcp' });

function noop(): void {}
