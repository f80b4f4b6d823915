import type { Socket } from 'node:net';
import type { Links } from '../util/linkedList';
import { SocketRecords } from '../util/socketRecords';

/**
 * One admitted connection's slot under a {@link Limiter}, released when its socket closes or explicitly.
 * A protocol that marks each exchange ({@link Token.busy}, {@link Token.idle}, as {@link handTo} does)
 * lets the limiter close the connection idle the longest to admit a waiting one (as nginx does), and
 * close connections as they go idle at shutdown. A connection is busy until first marked idle.
 */
export interface Token {
  /** Frees the slot (once; later calls do nothing). The socket stays open. */
  release(): void;
  /** Whether the slot has been freed. */
  readonly released: boolean;
  /**
   * Ends an exchange: with none left in flight, the connection is idle and may be closed
   * (`socket.destroySoon()`), unless bytes arrived since (a request on its way).
   */
  idle(): void;
  /** Begins an exchange: the connection is not idle until as many {@link Token.idle} calls have ended its exchanges (they may overlap). */
  busy(): void;
  /**
   * Begins an exchange, as {@link Token.busy}, if the limiter admits one now ({@link Limiter.exchangeLimit},
   * `maxWaitMs`); otherwise counts it in `shedRequests` and returns false: answer it at once that the
   * server is overloaded, without running its handler (HTTP: `503`, as {@link handTo} does).
   *
   * @returns Whether the exchange began.
   */
  tryBusy(): boolean;
  /**
   * Whether this connection should end after its current exchange (connections wait for a slot, or
   * the server drains or shuts down): HTTP answers `Connection: close`, which avoids the keep-alive race.
   */
  readonly retiring: boolean;
  /**
   * Sets how to retire this connection in its protocol's way instead of closing its socket (HTTP/2
   * GOAWAY, a WebSocket close frame 1001, a TLS close_notify), when the limiter reclaims it or shuts down.
   *
   * @param retire Closes the connection gracefully; called at most once.
   * @param graceful Whether `retire` lets what is in flight finish (GOAWAY, a close frame): then the
   *   connection is retired even if bytes arrived while idle, and at shutdown at once, busy or not. Default false.
   */
  retireWith(retire: () => void, graceful?: boolean): void;
  /** What the connection speaks (`'http/1.1'`, `'h2'`, ..., as {@link handTo} sets it), for {@link Limiter.idleByProtocol}. Default `'tcp'`. */
  protocol: string;
}

/** What a token needs of the limiter that issued it: one call per event. */
export interface TokenHost {
  released(token: SlotToken): void;
  /** No exchange is in flight any more: mark it idle (`exchanges = -1`). */
  wentIdle(token: SlotToken): void;
  /** An exchange began, the connection fresh or idle. */
  wentBusy(token: SlotToken): void;
  /** Whether a new exchange may begin now (counted if not). */
  admitsExchange(token: SlotToken): boolean;
  retiring(token: SlotToken): boolean;
  /** The connection may be retired at any time (see {@link Token.retireWith}). */
  retiresGracefully(token: SlotToken): void;
}

/**
 * What a connection speaks and how it retires: one shared per protocol for connections that retire
 * by closing their socket, one of its own for the others. One field for the three, as every field
 * costs each live connection 8 bytes.
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
  /** `busy()` calls not yet matched by `idle()`, or -1 between exchanges; 0 when fresh: busy until its first exchange ends. */
  exchanges = 0;
  #style: Style = TCP;

  /** @param owner Who admitted it (an operator): its withdrawal retires the connection. */
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

/** The token an admitted socket carries ({@link handTo} reads it), released by one shared 'close' listener. */
export const tokens = new SocketRecords<Token>('token', { close: (token) => token.release() });

/** A new token for an admitted socket, released when the socket closes. */
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
