/*
 * IP addresses as text, as strict as Node's `net.isIPv4` and `net.isIPv6` (no leading zeros in
 * a dotted quad) but without zone indexes, and matched against a list of addresses and CIDR
 * ranges, where `10.1.2.3` and `::ffff:10.1.2.3` (how a dual-stack socket reports an IPv4 client) are one.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { checkInteger } from './validate';

const COLON = 0x3a;
const DOT = 0x2e;

/** The 16 bytes of an IPv6 address that `net.isIPv6` accepts, but for a zone index (`%eth0`); `undefined` for any other text. */
export function parseIPv6(text: string): Uint8Array | undefined {
  if (!isIPv6(text) || text.includes('%')) return undefined;
  // Valid now, so read in one pass without checks (this runs for every v1 TCP6 header).
  const bytes = new Uint8Array(16);
  let at = 0;
  let gap = -1; // where "::" is, in bytes written
  let hex = 0;
  let decimal = 0;
  let quad = false;
  for (let i = 0; i <= text.length; i++) {
    const code = i < text.length ? text.charCodeAt(i) : COLON; // a colon past the end closes the last group
    if (code === DOT) {
      bytes[at++] = decimal;
      quad = true;
    } else if (code === COLON) {
      if (quad) bytes[at++] = decimal;
      else if (text.charCodeAt(i - 1) === COLON) gap = at;
      else if (i > 0) {
        bytes[at++] = hex >> 8;
        bytes[at++] = hex;
      }
    } else {
      hex = hex * 16 + (code & 0xf) + (code > 0x39 ? 9 : 0); // a digit, or a letter a-f or A-F
      decimal = decimal * 10 + (code & 0xf);
      continue;
    }
    hex = decimal = 0;
  }
  if (gap >= 0) {
    // "::" stands for the zero groups that make 16 bytes: move what follows it to the end.
    bytes.copyWithin(16 - (at - gap), gap, at);
    bytes.fill(0, gap, 16 - (at - gap));
  }
  return bytes;
}

/**
 * The IPv6 address at `offset` written as Node does (libuv's `inet_ntop`): RFC 5952 (lower case,
 * no leading zeros, the first longest run of two zero groups or more as `::`), with the last 32
 * bits as a dotted quad for IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible (`::a.b.c.d`) addresses.
 */
export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  const words: number[] = [];
  let gap = -1;
  let gapLength = 1;
  for (let i = 0, zeros = 0; i < 8; i++) {
    words.push((bytes[offset + 2 * i]! << 8) | bytes[offset + 2 * i + 1]!);
    zeros = words[i] === 0 ? zeros + 1 : 0;
    if (zeros > gapLength) {
      gap = i - zeros + 1;
      gapLength = zeros;
    }
  }
  if (gap === 0 && (gapLength === 6 || (gapLength === 5 && words[5] === 0xffff))) {
    return `::${gapLength === 5 ? 'ffff:' : ''}${bytes[offset + 12]}.${bytes[offset + 13]}.${bytes[offset + 14]}.${bytes[offset + 15]}`;
  }
  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === gap) {
      text += '::';
      i += gapLength - 1;
    } else {
      text += `${text === '' || text.endsWith(':') ? '' : ':'}${words[i]!.toString(16)}`;
    }
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
 * A matcher for a list of addresses and CIDR ranges (`10.0.0.0/8`, `fd00::/8`), an array or a
 * string separated by commas or white space; a zone index on the address checked is ignored.
 * Entries are strict, since they grant trust: a range with bits set past its prefix
 * (`10.0.0.1/8`) is refused rather than widened, with a TypeError that names the entry and `label`.
 */
export function parseAddressList(list: string | readonly string[], label = 'proxy protocol: trusted'): (address: string | undefined) => boolean {
  if (typeof list !== 'string' && !Array.isArray(list)) throw new TypeError(`${label} addresses must be a string or an array of strings, got ${show(list)}`);
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
  const bytes = isIPv4(address) ? address.split('.').map(Number) : parseIPv6(address);
  if (bytes === undefined) return `${show(address)} is not an IPv4 or IPv6 address`;
  const family = bytes.length === 4 ? 'ipv4' : 'ipv6';
  if (slash < 0) {
    blockList.addAddress(address, family);
    return undefined;
  }
  const prefixText = entry.slice(slash + 1);
  const prefix = Number(prefixText);
  if (!/^(?:0|[1-9]\d*)$/.test(prefixText) || prefix > bytes.length * 8) return `prefix length must be 0 to ${bytes.length * 8}`;
  const masked = mask(bytes, prefix);
  if (masked.some((byte, i) => byte !== bytes[i])) {
    return `bits are set past the prefix length (did you mean ${family === 'ipv4' ? masked.join('.') : formatIPv6(masked)}/${prefix}?)`;
  }
  blockList.addSubnet(address, prefix, family);
  return undefined;
}

/** A copy of `bytes` with every bit past the first `bits` cleared. */
function mask(bytes: ArrayLike<number>, bits: number): Uint8Array {
  const masked = new Uint8Array(bytes);
  for (let i = 0; i < masked.length; i++) masked[i] &= 0xff00 >> Math.min(8, Math.max(0, bits - 8 * i));
  return masked;
}

/**
 * The network an IPv6 address is in, as a key: its first `bits` bits (0 to 128, else a
 * RangeError) and the prefix length (`2001:db8:1:2::/64`): a host commonly holds a whole /64.
 * IPv4 addresses, IPv4-mapped ones and other text stay as they are.
 */
export function ipv6Prefix(address: string, bits: number): string {
  checkInteger('ipv6Prefix: bits', bits, 0, 128);
  const bytes = parseIPv6(withoutZone(address));
  // Unchanged too: an address in ::ffff:0:0/96, IPv4-mapped.
  if (bytes === undefined || (bytes.findIndex((byte) => byte !== 0) === 10 && bytes[10] === 0xff && bytes[11] === 0xff)) return address;
  return `${formatIPv6(mask(bytes, bits))}/${bits}`;
}
