import type { Socket } from 'node:net';
import { SocketRecords } from '../util/socketRecords';
import { checkOptions } from '../util/validate';
import type { ProxyHeader } from './proxyHeader';

/** An end of a connection, as a socket reports it. */
export interface Peer {
  /** Its address. */
  readonly address: string | undefined;
  /** Its port. */
  readonly port: number | undefined;
}

/** The header a connection came with. */
const headers = new SocketRecords<ProxyHeader>('proxy header', {});
/** The socket's own peer (the proxy), before the header's replaced it. */
const proxies = new SocketRecords<Peer>('proxy peer', {});

/**
 * Keeps a socket's header for {@link proxyHeaderOf} and, when it names a TCP client (not LOCAL),
 * makes `remoteAddress`, `remotePort` and `remoteFamily` own properties that say the client's,
 * over the prototype's getters that give the proxy's (kept for {@link proxyPeerOf}).
 */
export function actAs(socket: Socket, header: ProxyHeader): void {
  headers.attach(socket, header);
  if (header.command !== 'proxy' || header.source === undefined || (header.family !== 'tcp4' && header.family !== 'tcp6')) return;
  proxies.attach(socket, { address: socket.remoteAddress, port: socket.remotePort });
  Object.defineProperties(socket, {
    remoteAddress: { value: header.source.address, configurable: true },
    remotePort: { value: header.source.port, configurable: true },
    remoteFamily: { value: header.family === 'tcp6' ? 'IPv6' : 'IPv4', configurable: true },
  });
}

/**
 * The PROXY protocol header a connection came with (its TLVs: ALPN, authority, unique id,
 * SSL), once {@link proxyProtocol} has read it; `undefined` for a direct connection.
 *
 * @example
 * app.get('/', (req, res) => res.send(proxyHeaderOf(req.socket)?.ssl?.cn ?? 'no client certificate'));
 *
 * @param socket The accepted socket (or the one a server hands its handlers).
 * @throws {TypeError} When `socket` is not an object.
 */
export function proxyHeaderOf(socket: Socket): ProxyHeader | undefined {
  return headers.get(checkOptions('proxyHeaderOf: socket', socket, 'a socket'));
}

/**
 * Where the connection really came from (the proxy), where {@link proxyProtocol} made the
 * socket say the client's address; `undefined` otherwise.
 *
 * @throws {TypeError} When `socket` is not an object.
 */
export function proxyPeerOf(socket: Socket): Peer | undefined {
  return proxies.get(checkOptions('proxyPeerOf: socket', socket, 'a socket'));
}
