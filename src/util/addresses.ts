/*
 * IP addresses as text: strict parsing, Node's canonical IPv6 form, and matching against a list
 * of addresses and CIDR ranges (the proxies trusted to send a PROXY protocol header).
 *
 * An IPv4 client reaches a dual-stack socket as an IPv4-mapped IPv6 address (`::ffff:10.1.2.3`),
 * so matching treats `10.1.2.3` and `::ffff:10.1.2.3` as the same address, whichever way an
 * entry is written.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { checkInteger } from './validate';

const COLON = 0x3a;
const DOT = 0x2e;

/** Whether an address is on a list; `undefined` (a socket that has no remote address) is not. */
export type AddressMatcher = (address: string | undefined) => boolean;

/**
 * Reads a dotted-quad IPv4 address strictly: four decimal numbers 0-255, no leading zeros
 * (which some parsers read as octal).
 *
 * @example
 * parseIPv4('10.0.0.1'); // 167772161
 * parseIPv4('10.0.0.01'); // undefined
 *
 * @param text The address.
 * @returns The address as an unsigned 32-bit number, or `undefined` if `text` is not one.
 */
export function parseIPv4(text: string): number | undefined {
  const length = text.length;
  if (length < 7 || length > 15) return undefined;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code === DOT) {
      if (digits === 0 || dots === 3) return undefined;
      value = value * 256 + octet;
      octet = digits = 0;
      dots++;
    } else if (code >= 0x30 && code <= 0x39) {
      if (digits > 0 && octet === 0) return undefined; // a leading zero
      octet = octet * 10 + (code - 0x30);
      if (octet > 255) return undefined;
      digits++;
    } else {
      return undefined;
    }
  }
  return digits === 0 || dots !== 3 ? undefined : value * 256 + octet;
}

/**
 * Reads an IPv6 address in any textual form `net.isIPv6` accepts (groups of 1-4 hex digits in
 * either case, one `::`, a dotted IPv4 address as the last 32 bits), except with a zone index
 * (`%eth0`): 128 bits and nothing else.
 *
 * @example
 * parseIPv6('::ffff:10.0.0.1'); // Uint8Array [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 10, 0, 0, 1]
 *
 * @param text The address.
 * @returns The 16 bytes of the address, or `undefined` if `text` is not one.
 */
export function parseIPv6(text: string): Uint8Array | undefined {
  // One pass, as inet_pton does: this runs on every v1 TCP6 header, twice.
  const length = text.length;
  if (length < 2 || length > 45) return undefined;
  const bytes = new Uint8Array(16);
  let at = 0; // bytes written
  let gap = -1; // where "::" is, in bytes written
  let i = 0;
  if (text.charCodeAt(0) === COLON && text.charCodeAt(++i) !== COLON) return undefined; // ":" alone may not lead
  let groupStart = i;
  let value = 0;
  let digits = 0;
  for (; i < length; i++) {
    const code = text.charCodeAt(i);
    const digit = hexValue(code);
    if (digit >= 0) {
      if (++digits > 4) return undefined;
      value = value * 16 + digit;
    } else if (code === COLON) {
      groupStart = i + 1;
      if (digits === 0) {
        if (gap >= 0) return undefined; // a second "::", or ":::"
        gap = at;
        continue;
      }
      if (i === length - 1 || at === 16) return undefined; // ":" may not end it
      bytes[at++] = value >> 8;
      bytes[at++] = value & 0xff;
      value = digits = 0;
    } else if (code === DOT && at <= 12) {
      // A dotted quad ends the address, in place of the last two groups.
      const ipv4 = parseIPv4(text.slice(groupStart));
      if (ipv4 === undefined) return undefined;
      bytes[at++] = ipv4 >>> 24;
      bytes[at++] = (ipv4 >>> 16) & 0xff;
      bytes[at++] = (ipv4 >>> 8) & 0xff;
      bytes[at++] = ipv4 & 0xff;
      digits = 0;
      break;
    } else {
      return undefined;
    }
  }
  if (digits > 0) {
    if (at === 16) return undefined;
    bytes[at++] = value >> 8;
    bytes[at++] = value & 0xff;
  }
  if (gap >= 0) {
    // "::" stands for one zero group or more: move what follows it to the end.
    if (at === 16) return undefined;
    const moved = at - gap;
    bytes.copyWithin(16 - moved, gap, at);
    bytes.fill(0, gap, 16 - moved);
    at = 16;
  }
  return at === 16 ? bytes : undefined;
}


/** The value of a hex digit's character code, or -1. */
function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/**
 * Writes an IPv6 address as Node does (`socket.remoteAddress`, libuv's `inet_ntop`): lower case,
 * no leading zeros, the longest run of two zero groups or more (the first of equal runs) as
 * `::`, and the last 32 bits as a dotted quad for IPv4-mapped (`::ffff:a.b.c.d`) and
 * IPv4-compatible (`::a.b.c.d`) addresses.
 *
 * @example
 * formatIPv6(Buffer.from('20010db8000000000000000000000001', 'hex')); // '2001:db8::1'
 *
 * @param bytes The address, in network order.
 * @param offset Where its 16 bytes start in `bytes`.
 * @returns The address as text.
 */
export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!);
  let bestAt = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && words[end] === 0) end++;
    if (end - i > bestLength) [bestAt, bestLength] = [i, end - i];
    i = end;
  }
  if (bestLength < 2) bestAt = -1; // a single zero group is written as 0, not ::
  const embedsIPv4 = bestAt === 0 && (bestLength === 6 || (bestLength === 5 && words[5] === 0xffff));
  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestAt) {
      text += i === 0 ? '::' : ':';
      i += bestLength - 1;
      continue;
    }
    if (embedsIPv4 && i === 6) {
      const at = offset + 12;
      return `${text}${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`;
    }
    text += words[i]!.toString(16);
    if (i < 7) text += ':';
  }
  return text;
}

/** The address part of `address`, without a zone index (`fe80::1%eth0`, as Node reports link-local peers). */
function withoutZone(address: string): string {
  const zone = address.indexOf('%');
  return zone < 0 ? address : address.slice(0, zone);
}

function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/**
 * A matcher for a list of addresses and CIDR ranges, IPv4 and IPv6: `127.0.0.1`, `10.0.0.0/8`,
 * `::1`, `fd00::/8`, `::ffff:10.0.0.0/104`. An IPv4 entry matches the IPv4-mapped form of its
 * addresses too (`::ffff:127.0.0.1`, what a dual-stack socket reports), and a range of mapped
 * addresses matches the IPv4 addresses it maps. A zone index on the address checked is
 * ignored. Node's `net.BlockList` does the matching.
 *
 * Entries are strict, since they grant trust: a range with bits set past its prefix
 * (`10.0.0.1/8`) is refused rather than widened, and so are zone indexes and leading zeros.
 *
 * @example
 * const trusted = parseAddressList('127.0.0.1, 10.0.0.0/8, fd00::/8');
 * trusted('::ffff:10.1.2.3'); // true
 * trusted('192.168.0.1'); // false
 * parseAddressList(['10.0.0.0/33']); // TypeError: proxy protocol: trusted entry "10.0.0.0/33": prefix length must be 0 to 32
 *
 * @param list The entries: an array, or a string of them separated by commas or white space
 *   (an empty string trusts nothing).
 * @param label What to call the list in errors.
 * @returns Whether an address is on the list.
 * @throws TypeError naming the first bad entry.
 */
export function parseAddressList(list: string | readonly string[], label = 'proxy protocol: trusted'): AddressMatcher {
  if (typeof list !== 'string' && !Array.isArray(list)) {
    throw new TypeError(`${label} addresses must be a string or an array of strings, got ${show(list)}`);
  }
  const entries: readonly unknown[] = typeof list === 'string' ? list.split(/[\s,]+/).filter((entry) => entry !== '') : list;
  const blockList = new BlockList();
  for (const entry of entries) {
    const problem = addEntry(blockList, entry);
    if (problem !== undefined) throw new TypeError(`${label} entry ${show(entry)}: ${problem}`);
  }
  return (address) => {
    if (typeof address !== 'string') return false;
    const bare = withoutZone(address);
    if (isIPv4(bare)) return blockList.check(bare, 'ipv4');
    if (isIPv6(bare)) return blockList.check(bare, 'ipv6');
    return false;
  };
}

/** Adds one entry to `blockList`. @returns What is wrong with it, if anything. */
function addEntry(blockList: BlockList, entry: unknown): string | undefined {
  if (typeof entry !== 'string') return 'must be a string';
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const ipv4 = parseIPv4(address);
  const ipv6 = ipv4 === undefined ? parseIPv6(address) : undefined;
  if (ipv4 === undefined && ipv6 === undefined) return `${show(address)} is not an IPv4 or IPv6 address`;
  const bits = ipv4 !== undefined ? 32 : 128;
  const family = ipv4 !== undefined ? 'ipv4' : 'ipv6';
  // Handed on in Node's own form, which its parser reads whatever this one accepted.
  const canonical = ipv6 === undefined ? address : formatIPv6(ipv6);
  if (slash < 0) {
    blockList.addAddress(canonical, family);
    return undefined;
  }
  const prefixText = entry.slice(slash + 1);
  const prefix = Number(prefixText);
  if (!/^(?:0|[1-9]\d*)$/.test(prefixText) || prefix > bits) return `prefix length must be 0 to ${bits}`;
  const bytes = ipv6 ?? Uint8Array.of(ipv4! >>> 24, (ipv4! >>> 16) & 0xff, (ipv4! >>> 8) & 0xff, ipv4! & 0xff);
  const masked = mask(bytes, prefix);
  if (masked.some((byte, i) => byte !== bytes[i])) {
    const network = ipv4 !== undefined ? masked.join('.') : formatIPv6(masked);
    return `bits are set past the prefix length (did you mean ${network}/${prefix}?)`;
  }
  blockList.addSubnet(canonical, prefix, family);
  return undefined;
}

/** A copy of `bytes` with every bit past the first `bits` cleared. */
function mask(bytes: Uint8Array, bits: number): Uint8Array {
  const masked = Uint8Array.from(bytes);
  for (let i = 0; i < masked.length; i++) {
    const kept = Math.max(0, Math.min(8, bits - 8 * i));
    masked[i] = masked[i]! & (0xff00 >> kept) & 0xff;
  }
  return masked;
}

/**
 * The network an IPv6 address is in, as a string key: the address masked to its first `bits`
 * bits, in Node's canonical form, with the prefix length (`2001:db8:1:2::/64`). An IPv6 host
 * commonly holds a whole /64, so per-client counts keyed by this see one client where keying
 * by address would see 2^64. IPv4 addresses, IPv4-mapped IPv6 addresses (an IPv4 client of a
 * dual-stack socket) and text that is not an IP address are returned unchanged.
 *
 * @example
 * ipv6Prefix('2001:db8:1:2:3:4:5:6', 64); // '2001:db8:1:2::/64'
 * ipv6Prefix('::ffff:10.1.2.3', 64); // '::ffff:10.1.2.3'
 * ipv6Prefix('10.1.2.3', 64); // '10.1.2.3'
 *
 * @param address The address, as `socket.remoteAddress` gives it (a zone index is dropped).
 * @param bits The prefix length kept, an integer 0 to 128.
 * @returns The key.
 * @throws RangeError if `bits` is not an integer 0 to 128.
 */
export function ipv6Prefix(address: string, bits: number): string {
  checkInteger('ipv6Prefix: bits', bits, 0, 128);
  if (isIPv4(address)) return address;
  const bytes = parseIPv6(withoutZone(address));
  if (bytes === undefined || isIPv4Mapped(bytes)) return address;
  return `${formatIPv6(mask(bytes, bits))}/${bits}`;
}

/** Whether the address is in `::ffff:0:0/96`. */
function isIPv4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}
