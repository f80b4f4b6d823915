import type { Socket } from 'node:net';
import { tokens, type Token } from '../limit/token';
import { checkOptions } from '../util/validate';

/** Where the Limiter puts a socket's token: read directly on every request. */
const kToken = tokens.key;

/** A socket as a protocol sees it: a TLS socket links to the socket it wraps (internal, Node 20 to 26). */
type Seen = Socket & Record<symbol, Token | undefined> & { _parent?: Seen | null };

/**
 * The {@link Token} of a connection admitted by {@link backpressure}, from the socket a
 * protocol sees: the accepted socket, or the TLS socket wrapped around it (or an HTTP/2
 * session's proxy of it). A protocol that knows when its connections sit between exchanges
 * marks them with it ({@link Token.busy}, {@link Token.idle}) and says how to retire them
 * ({@link Token.retireWith}); {@link handTo} does so for HTTP/1, HTTPS and HTTP/2.
 *
 * A TLS socket links to the one it wraps through `_parent`, which Node does not document
 * (present in Node 20 to 26, checked by the suite); without it, TLS connections have no token
 * here, and are neither reclaimed nor asked to close.
 *
 * @example
 * tlsServer.on('secureConnection', (socket) => {
 *   socket.on('data', (line) => { tokenOf(socket)?.busy(); answer(line).then(() => tokenOf(socket)?.idle()); });
 * });
 *
 * @returns Its token, or `undefined` where no limiter admitted it.
 * @throws {TypeError} When `socket` is not an object (nor `null` or `undefined`): a string would have no token without a word.
 */
export function tokenOf(socket: Socket | null | undefined): Token | undefined {
  if (socket == null) return undefined;
  checkOptions('tokenOf: socket', socket, 'a socket');
  const seen = socket as Seen;
  return seen[kToken] ?? seen._parent?.[kToken];
}
