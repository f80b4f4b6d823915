/*
 * The PROXY protocol header (HAProxy's doc/proxy-protocol.txt, v1 and v2). Nothing is kept
 * between calls: the caller parses the bytes read so far again as more arrive, cheaper than
 * keeping state for a header this small. A buffer is 'incomplete' only while it could still
 * become a valid header, and 'invalid' as soon as it cannot (a client that is not a proxy is
 * turned away at its first byte, not at a timeout).
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { isIPv4, isIPv6 } from 'node:net';
import { formatIPv6, parseIPv6 } from '../util/addresses';

/** The longest v1 header, its CRLF included: `PROXY UNKNOWN` with two full IPv6 addresses and ports. */
export const PROXY_V1_MAX_LENGTH = 107;

/** The longest v2 header: 16 bytes and as many more as a 16-bit length can say. */
export const PROXY_V2_MAX_LENGTH = 16 + 0xffff;

/**
 * The v2 TLV types the spec registers, with the subtypes of an SSL TLV, and the one AWS uses
 * (its value is a subtype byte, 0x01 for the VPC endpoint ID, then that ID as text).
 *
 * @example
 * const aws = header.tlvs.find((tlv) => tlv.type === ProxyTlvType.AWS && tlv.value[0] === 0x01);
 * const vpceId = aws?.value.subarray(1).toString('latin1'); // 'vpce-08d2bf15fac5001c9'
 */
export const ProxyTlvType = {
  /** PP2_TYPE_ALPN: the protocol the client negotiated. */
  ALPN: 0x01,
  /** PP2_TYPE_AUTHORITY: the host name the client asked for (SNI). */
  AUTHORITY: 0x02,
  /** PP2_TYPE_CRC32C: a checksum of the whole header. */
  CRC32C: 0x03,
  /** PP2_TYPE_NOOP: padding. */
  NOOP: 0x04,
  /** PP2_TYPE_UNIQUE_ID: the proxy's ID for the connection. */
  UNIQUE_ID: 0x05,
  /** PP2_TYPE_SSL: the client's TLS connection to the proxy, with sub-TLVs. */
  SSL: 0x20,
  /** PP2_SUBTYPE_SSL_VERSION. */
  SSL_VERSION: 0x21,
  /** PP2_SUBTYPE_SSL_CN: the client certificate's Common Name. */
  SSL_CN: 0x22,
  /** PP2_SUBTYPE_SSL_CIPHER. */
  SSL_CIPHER: 0x23,
  /** PP2_SUBTYPE_SSL_SIG_ALG. */
  SSL_SIG_ALG: 0x24,
  /** PP2_SUBTYPE_SSL_KEY_ALG. */
  SSL_KEY_ALG: 0x25,
  /** PP2_TYPE_NETNS: the network namespace. */
  NETNS: 0x30,
  /** AWS's PP2_TYPE_AWS (VPC endpoint ID). */
  AWS: 0xea,
} as const;

/** An endpoint of the relayed connection. */
export interface ProxyAddress {
  /** An IPv4 dotted quad, an IPv6 address in Node's canonical form, or a UNIX socket path (`@name` in the abstract namespace). */
  address: string;
  /** The TCP port; 0 for a UNIX socket. */
  port: number;
}

/** One type-length-value record of a v2 header. */
export interface ProxyTlv {
  /** The type byte (see {@link ProxyTlvType}). */
  type: number;
  /** The value, a copy: it does not hold on to the buffer parsed. */
  value: Buffer;
}

/** What a v2 header's SSL TLV says about the client's TLS connection to the proxy. */
export interface ProxySsl {
  /** The client bit field: 0x01 connected over TLS, 0x02 gave a certificate on this connection, 0x04 in this TLS session. */
  client: number;
  /** The verify field as sent: 0 when a certificate was verified. */
  verify: number;
  /** Whether the client gave a certificate and it was verified (HAProxy sends `verify` 0 when there was no certificate). */
  verified: boolean;
  /** The TLS version, e.g. `TLSv1.3`. */
  version?: string;
  /** The Common Name of the client certificate. */
  cn?: string;
  /** The cipher, e.g. `ECDHE-RSA-AES128-GCM-SHA256`. */
  cipher?: string;
  /** The algorithm that signed the proxy's certificate, e.g. `RSA-SHA256`. */
  sigAlg?: string;
  /** The algorithm of the proxy certificate's key, e.g. `RSA2048`. */
  keyAlg?: string;
}

/**
 * A PROXY protocol header, v1 or v2.
 *
 * @example
 * // Whom the connection is from: the client, or for a health check (LOCAL, UNKNOWN) the proxy.
 * const client = header.source?.address ?? socket.remoteAddress;
 */
export interface ProxyHeader {
  /** 1: the text line; 2: the binary header. */
  version: 1 | 2;
  /** `local`: a connection the proxy made itself (a health check); it keeps its own addresses. */
  command: 'proxy' | 'local';
  /** The relayed connection's family; `unknown` (v1 `UNKNOWN`; v2 LOCAL, UNSPEC, UDP or UNIX datagram) has no addresses. */
  family: 'tcp4' | 'tcp6' | 'unix' | 'unknown';
  /** Where the relayed connection came from: the client. */
  source?: ProxyAddress;
  /** Where it went: the proxy's listening address. */
  destination?: ProxyAddress;
  /** Every TLV of a v2 header, in order, the ones read into the fields below included; none for v1. */
  tlvs: ProxyTlv[];
  /** The ALPN protocol the client negotiated, e.g. `h2` (bytes read as Latin-1). */
  alpn?: string;
  /** The host name the client asked for (TLS SNI). */
  authority?: string;
  /** The proxy's ID for the connection, up to 128 bytes. */
  uniqueId?: Buffer;
  /** The client's TLS connection to the proxy. */
  ssl?: ProxySsl;
  /** The network namespace the proxy accepted the connection in. */
  netns?: string;
}

/** What {@link parseProxyHeader} makes of the bytes read so far: wait for more, close the connection, or go on after `length` bytes. */
export type ProxyHeaderResult =
  | { state: 'incomplete' }
  | { state: 'invalid'; reason: string }
  | { state: 'complete'; header: ProxyHeader; length: number };

const INCOMPLETE: ProxyHeaderResult = Object.freeze({ state: 'incomplete' });
const NOT_A_HEADER = 'not a PROXY protocol header';

function invalid(reason: string): ProxyHeaderResult {
  return { state: 'invalid', reason };
}

/** Text quoted for a reason: JSON-escaped, and short. */
function show(text: string): string {
  return JSON.stringify(text.length > 48 ? `${text.slice(0, 45)}...` : text);
}

/**
 * Parses the PROXY protocol header, v1 or v2, at the start of the bytes read so far; never reads
 * past it, never throws, never says `incomplete` of a buffer as long as the longest header. As
 * strict as the spec: v1 takes one space between fields, dotted quads and ports without leading
 * zeros, IPv6 as `net.isIPv6` reads it (no zone index), a CRLF within 107 bytes; v2 takes the
 * commands, families and protocols the spec lists, address blocks the length covers, TLVs that
 * end where the header does (singular ones once, text in its encoding), and a matching CRC32C.
 */
export function parseProxyHeader(buffer: Buffer): ProxyHeaderResult {
  if (buffer.length === 0) return INCOMPLETE;
  if (buffer[0] === 0x50) return parseV1(buffer); // 'P'
  if (buffer[0] === 0x0d) return parseV2(buffer); // '\r'
  return invalid(NOT_A_HEADER);
}

// Version 1: `PROXY TCP4|TCP6 <source> <destination> <source port> <destination port>\r\n`, or `PROXY UNKNOWN[ <anything>]\r\n`.

const V1_FIELDS = ['source address', 'destination address', 'source port', 'destination port'] as const;
const PORT = /^(?:0|[1-9]\d{0,4})$/;
// Whether a whole field is a valid address, and whether one still arriving can start one, to
// refuse it early. IPv6 is only checked for its characters and length then: net.isIPv6 reads 45 at most.
const V1_ADDRESSES = {
  TCP4: { family: 'IPv4', whole: isIPv4, start: /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){0,3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)?$/ },
  TCP6: { family: 'IPv6', whole: (text: string) => isIPv6(text) && !text.includes('%'), start: /^[0-9a-fA-F:.]{0,45}$/ },
};
const ONE_SPACE = 'v1: expected exactly one space after "PROXY"';

function parseV1(buffer: Buffer): ProxyHeaderResult {
  // The line ends at the first LF, if it comes soon enough; nothing after it is read.
  const lf = buffer.indexOf(0x0a);
  const ended = lf >= 0 && lf < PROXY_V1_MAX_LENGTH;
  const text = buffer.toString('latin1', 0, ended ? lf + 1 : PROXY_V1_MAX_LENGTH);
  // The line without its end: a CRLF, a bare LF (refused below), or a CR still waiting for its LF.
  const line = ended ? text.slice(0, text.endsWith('\r\n') ? -2 : -1) : text.endsWith('\r') ? text.slice(0, -1) : text;

  const signature = 'PROXY ';
  for (let i = 0; i < Math.min(line.length, signature.length); i++) {
    if (line[i] !== signature[i]) return invalid(i < 5 ? NOT_A_HEADER : ONE_SPACE);
  }
  if (line[signature.length] === ' ') return invalid(ONE_SPACE);
  if (ended && line.length < 5) return invalid(NOT_A_HEADER);
  if (ended && !text.endsWith('\r\n')) return invalid('v1: the line ends with a bare LF (CRLF expected)');
  if (line.includes('\r')) return invalid('v1: CR not followed by LF');
  if (ended && line.length <= 6) return invalid('v1: missing protocol (TCP4, TCP6 or UNKNOWN)');
  const pending = (): ProxyHeaderResult => (buffer.length >= PROXY_V1_MAX_LENGTH ? invalid(`v1: line longer than ${PROXY_V1_MAX_LENGTH} bytes`) : INCOMPLETE);
  if (line.length <= signature.length) return pending();

  const rest = line.slice(signature.length);
  if (rest.startsWith('UNKNOWN') && (rest.length === 7 || rest[7] === ' ')) {
    // The sender may say anything up to the CRLF, and the receiver must ignore it.
    if (!ended) return pending();
    return { state: 'complete', header: { version: 1, command: 'proxy', family: 'unknown', tlvs: [] }, length: lf + 1 };
  }
  const protocol = rest.startsWith('TCP4 ') ? 'TCP4' : rest.startsWith('TCP6 ') ? 'TCP6' : undefined;
  if (protocol === undefined) {
    if (!ended && ['TCP4 ', 'TCP6 ', 'UNKNOWN'].some((known) => known.startsWith(rest))) return pending();
    if (ended && (rest === 'TCP4' || rest === 'TCP6')) return invalid(`v1: ${rest} without addresses and ports`);
    return invalid(`v1: unknown protocol ${show(rest.split(' ')[0]!)} (TCP4, TCP6 or UNKNOWN expected)`);
  }

  const fields = rest.slice(5).split(' ');
  for (let i = 0; i < fields.length; i++) {
    if (i === V1_FIELDS.length) return invalid(`v1: unexpected ${show(` ${fields.slice(i).join(' ')}`)} after the destination port`);
    // A field followed by a space or the CRLF is whole; the last one may still be arriving.
    const whole = ended || i < fields.length - 1;
    const problem = checkV1Field(protocol, i, fields[i]!, whole);
    if (problem !== undefined) return invalid(problem);
  }
  if (!ended) return pending();
  if (fields.length < V1_FIELDS.length) return invalid(`v1: the ${protocol} line ends after ${fields.length} of its 4 fields (addresses and ports)`);
  const [source, destination, sourcePort, destinationPort] = fields as [string, string, string, string];
  const canonical = (address: string): string => (protocol === 'TCP4' ? address : formatIPv6(parseIPv6(address)!));
  const header: ProxyHeader = { version: 1, command: 'proxy', family: protocol === 'TCP4' ? 'tcp4' : 'tcp6', tlvs: [] };
  header.source = { address: canonical(source), port: Number(sourcePort) };
  header.destination = { address: canonical(destination), port: Number(destinationPort) };
  return { state: 'complete', header, length: lf + 1 };
}

/** What is wrong with field `index` of a TCP4 or TCP6 line, if anything; one that may still grow only if it cannot start a valid one. */
function checkV1Field(protocol: 'TCP4' | 'TCP6', index: number, field: string, whole: boolean): string | undefined {
  const name = V1_FIELDS[index]!;
  if (whole && field === '') return `v1: missing ${name} (fields take exactly one space between them)`;
  if (index >= 2) {
    // Every start of a valid port is a valid port: no leading zeros, so fewer digits is less.
    if (field === '' || (PORT.test(field) && Number(field) <= 0xffff)) return undefined;
    return `v1: bad ${name} ${show(field)} (0 to 65535, no leading zeros)`;
  }
  const address = V1_ADDRESSES[protocol];
  return (whole ? address.whole(field) : address.start.test(field)) ? undefined : `v1: bad ${address.family} ${name} ${show(field)}`;
}

// Version 2: 16 bytes (signature, version and command, family and protocol, length), an address block, and TLVs.

const SIGNATURE = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');

// What each family and protocol byte the spec lists says: the family reported (`unknown` for
// datagrams, which the spec lets a stream receiver ignore), the address block's size. Any other is refused.
const LAYOUTS = new Map<number, { family: ProxyHeader['family']; size: number; name: string }>([
  [0x00, { family: 'unknown', size: 0, name: 'UNSPEC' }],
  [0x11, { family: 'tcp4', size: 12, name: 'TCP over IPv4' }],
  [0x12, { family: 'unknown', size: 12, name: 'UDP over IPv4' }],
  [0x21, { family: 'tcp6', size: 36, name: 'TCP over IPv6' }],
  [0x22, { family: 'unknown', size: 36, name: 'UDP over IPv6' }],
  [0x31, { family: 'unix', size: 216, name: 'UNIX stream' }],
  [0x32, { family: 'unknown', size: 216, name: 'UNIX datagram' }],
]);

const hex = (value: number, digits = 2): string => `0x${value.toString(16).padStart(digits, '0')}`;

function parseV2(buffer: Buffer): ProxyHeaderResult {
  for (let i = 0; i < Math.min(buffer.length, SIGNATURE.length); i++) {
    if (buffer[i] !== SIGNATURE[i]) return invalid(NOT_A_HEADER);
  }
  if (buffer.length <= 12) return INCOMPLETE;
  const version = buffer[12]! >> 4;
  if (version !== 2) return invalid(`v2: unsupported version ${version}`);
  const command = buffer[12]! & 0x0f;
  if (command > 1) return invalid(`v2: unsupported command ${hex(command, 1)} (0x0 LOCAL or 0x1 PROXY expected)`);
  if (buffer.length <= 13) return INCOMPLETE;
  const layout = LAYOUTS.get(buffer[13]!);
  if (layout === undefined) return invalid(`v2: unsupported address family and protocol ${hex(buffer[13]!)}`);
  if (buffer.length < 16) return INCOMPLETE;
  const declared = buffer.readUInt16BE(14);
  const proxied = command === 1;
  if (proxied && declared < layout.size) return invalid(`v2: length ${declared} is shorter than the ${layout.size}-byte address block of ${layout.name}`);
  const length = 16 + declared;
  if (buffer.length < length) return INCOMPLETE;

  // LOCAL: the family is ignored, and so are the addresses, if the length holds them at all.
  const header: ProxyHeader = { version: 2, command: proxied ? 'proxy' : 'local', family: proxied ? layout.family : 'unknown', tlvs: [] };
  if (header.family === 'tcp4') {
    header.source = { address: `${buffer[16]}.${buffer[17]}.${buffer[18]}.${buffer[19]}`, port: buffer.readUInt16BE(24) };
    header.destination = { address: `${buffer[20]}.${buffer[21]}.${buffer[22]}.${buffer[23]}`, port: buffer.readUInt16BE(26) };
  } else if (header.family === 'tcp6') {
    header.source = { address: formatIPv6(buffer, 16), port: buffer.readUInt16BE(48) };
    header.destination = { address: formatIPv6(buffer, 32), port: buffer.readUInt16BE(50) };
  } else if (header.family === 'unix') {
    header.source = { address: unixPathAt(buffer, 16), port: 0 };
    header.destination = { address: unixPathAt(buffer, 124), port: 0 };
  }
  const problem = readTlvs(buffer, 16 + Math.min(layout.size, declared), length, header);
  return problem === undefined ? { state: 'complete', header, length } : invalid(problem);
}

/** A 108-byte `sun_path`: a path up to its NUL, or `@name` for a name in the abstract namespace (a first byte of 0). */
function unixPathAt(buffer: Buffer, at: number): string {
  const start = buffer[at] === 0 ? at + 1 : at;
  const nul = buffer.subarray(start, at + 108).indexOf(0);
  const path = buffer.toString('utf8', start, nul < 0 ? at + 108 : start + nul);
  return start > at && path !== '' ? `@${path}` : path;
}

// The types that may come once at most in a header, and in an SSL TLV: two ALPNs would leave
// the receiver to guess which one holds.
const SINGULAR_TLVS = new Map((['ALPN', 'AUTHORITY', 'CRC32C', 'UNIQUE_ID', 'SSL', 'NETNS'] as const).map((name) => [ProxyTlvType[name], name]));

/** The SSL subtypes read, what they fill, what to call them, and whether they are UTF-8 (else US-ASCII). */
const SSL_FIELDS = new Map<number, { field: 'version' | 'cn' | 'cipher' | 'sigAlg' | 'keyAlg'; name: string; utf8: boolean }>([
  [ProxyTlvType.SSL_VERSION, { field: 'version', name: 'SSL version', utf8: false }],
  [ProxyTlvType.SSL_CN, { field: 'cn', name: 'SSL CN', utf8: true }],
  [ProxyTlvType.SSL_CIPHER, { field: 'cipher', name: 'SSL cipher', utf8: false }],
  [ProxyTlvType.SSL_SIG_ALG, { field: 'sigAlg', name: 'SSL signature algorithm', utf8: false }],
  [ProxyTlvType.SSL_KEY_ALG, { field: 'keyAlg', name: 'SSL key algorithm', utf8: false }],
]);
const SINGULAR_SSL_TLVS = new Map([...SSL_FIELDS].map(([type, { name }]) => [type, name]));

type TakeTlv = (type: number, at: number, size: number) => string | undefined;

/** Walks the TLVs that must fill `buffer` from `start` to `end`, `singular` types once at most. @returns What is wrong, if anything. */
function walkTlvs(buffer: Buffer, start: number, end: number, where: string, singular: ReadonlyMap<number, string>, take: TakeTlv): string | undefined {
  const seen = new Set<number>();
  for (let at = start; at < end; ) {
    if (end - at < 3) return `v2: ${end - at} byte(s) left at the end of the ${where}, too few for a TLV`;
    const type = buffer[at]!;
    const size = buffer.readUInt16BE(at + 1);
    if (at + 3 + size > end) return `v2: TLV ${hex(type)} of ${size} bytes runs past the end of the ${where}`;
    const name = singular.get(type);
    if (name !== undefined && seen.has(type)) return `v2: more than one ${name} TLV`;
    seen.add(type);
    const problem = take(type, at + 3, size);
    if (problem !== undefined) return problem;
    at += 3 + size;
  }
  return undefined;
}

/** Reads the TLVs of a header of `end` bytes into `header`. @returns What is wrong, if anything. */
function readTlvs(buffer: Buffer, start: number, end: number, header: ProxyHeader): string | undefined {
  let checksumAt = -1;
  const problem = walkTlvs(buffer, start, end, 'header', SINGULAR_TLVS, (type, at, size) => {
    const value = Buffer.from(buffer.subarray(at, at + size)); // a copy, not a view that would pin the caller's buffer
    header.tlvs.push({ type, value });
    // Each field is filled before its value is checked: a header found invalid is not returned.
    switch (type) {
      case ProxyTlvType.ALPN:
        header.alpn = value.toString('latin1'); // a byte string; registered ALPN IDs are ASCII
        return undefined;
      case ProxyTlvType.AUTHORITY:
        header.authority = value.toString('utf8');
        return isUtf8(value) ? undefined : 'v2: the AUTHORITY TLV is not UTF-8';
      case ProxyTlvType.CRC32C:
        checksumAt = at;
        return size === 4 ? undefined : `v2: CRC32C TLV of ${size} bytes (4 expected)`;
      case ProxyTlvType.UNIQUE_ID:
        header.uniqueId = value;
        return size <= 128 ? undefined : `v2: UNIQUE_ID TLV of ${size} bytes (128 at most)`;
      case ProxyTlvType.SSL:
        return readSsl(value, header);
      case ProxyTlvType.NETNS:
        header.netns = value.toString('latin1');
        return isAscii(value) ? undefined : 'v2: the NETNS TLV is not US-ASCII';
      default:
        return undefined; // NOOP, and types this parser does not read: kept in `tlvs`
    }
  });
  if (problem !== undefined || checksumAt < 0) return problem;
  // The checksum covers the whole header with its own field as zeros.
  const sent = buffer.readUInt32BE(checksumAt);
  const crc = crc32c(Buffer.from(buffer.subarray(0, end)).fill(0, checksumAt, checksumAt + 4));
  return crc === sent ? undefined : `v2: CRC32C mismatch (the header says ${hex(sent, 8)}, its bytes give ${hex(crc, 8)})`;
}

/** Reads an SSL TLV's value (client and verify fields, then sub-TLVs) into `header.ssl`. @returns What is wrong, if anything. */
function readSsl(value: Buffer, header: ProxyHeader): string | undefined {
  if (value.length < 5) return `v2: SSL TLV of ${value.length} bytes, shorter than its 5-byte client and verify fields`;
  const client = value[0]!;
  const verify = value.readUInt32BE(1);
  const ssl: ProxySsl = (header.ssl = { client, verify, verified: verify === 0 && (client & 0x06) !== 0 });
  return walkTlvs(value, 5, value.length, 'SSL TLV', SINGULAR_SSL_TLVS, (type, at, size) => {
    const known = SSL_FIELDS.get(type);
    if (known === undefined) return undefined; // a subtype this parser does not read
    const bytes = value.subarray(at, at + size);
    ssl[known.field] = bytes.toString(known.utf8 ? 'utf8' : 'latin1');
    return (known.utf8 ? isUtf8(bytes) : isAscii(bytes)) ? undefined : `v2: the ${known.name} is not ${known.utf8 ? 'UTF-8' : 'US-ASCII'}`;
  });
}

// CRC32C as RFC 4960 appendix B computes it: reflected, polynomial 0x82F63B78, initial value and final XOR all ones.
const CRC32C_TABLE = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  CRC32C_TABLE[n] = c >>> 0;
}

/** The CRC32C (Castagnoli) checksum of `data`, an unsigned 32-bit number, as a v2 header's CRC32C TLV carries it. */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC32C_TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
