/*
 * The PROXY protocol header parser against HAProxy's doc/proxy-protocol.txt: the examples and
 * every rule, fed whole and byte by byte, then fuzzed against generated headers and against a
 * reference decoder written independently (regular expressions, Node's own address parsing,
 * a bitwise CRC) in this file.
 */
import fc from 'fast-check';
import { isIPv4, isIPv6, SocketAddress } from 'node:net';
import { crc32c, parseProxyHeader, PROXY_V1_MAX_LENGTH, PROXY_V2_MAX_LENGTH, ProxyTlvType, type ProxyHeader, type ProxyHeaderResult } from '../../src/protocol/proxyHeader';

// ---------------------------------------------------------------------------------------------
// Building headers

const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const LOCAL = 0x20;
const PROXY = 0x21;

/** One TLV: type, 16-bit length, value. */
function tlv(type: number, value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

/** A v2 header: the 16 bytes, then `body`; the length says `body.length` unless told otherwise. */
function v2(verCmd: number, fam: number, body: Buffer, length = body.length): Buffer {
  const head = Buffer.alloc(16);
  SIGNATURE.copy(head);
  head[12] = verCmd;
  head[13] = fam;
  head.writeUInt16BE(length, 14);
  return Buffer.concat([head, body]);
}

/** CRC32C, one bit at a time: the definition, to check the table-driven one against. */
function bitwiseCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** `header` with the CRC32C TLV whose value starts at `at` filled in, as a sender does. */
function sealed(header: Buffer, at: number): Buffer {
  const copy = Buffer.from(header);
  copy.fill(0, at, at + 4);
  copy.writeUInt32BE(bitwiseCrc32c(copy), at);
  return copy;
}

const ipv4Block = (source: number[], destination: number[], sourcePort: number, destinationPort: number): Buffer => {
  const block = Buffer.from([...source, ...destination, 0, 0, 0, 0]);
  block.writeUInt16BE(sourcePort, 8);
  block.writeUInt16BE(destinationPort, 10);
  return block;
};
const ipv6Block = (source: string, destination: string, sourcePort: number, destinationPort: number): Buffer => {
  const block = Buffer.alloc(36);
  Buffer.from(source, 'hex').copy(block, 0);
  Buffer.from(destination, 'hex').copy(block, 16);
  block.writeUInt16BE(sourcePort, 32);
  block.writeUInt16BE(destinationPort, 34);
  return block;
};
const unixPath = (path: string): Buffer => {
  const block = Buffer.alloc(108);
  Buffer.from(path, 'latin1').copy(block);
  return block;
};

const parse = (bytes: Buffer | string): ProxyHeaderResult => parseProxyHeader(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
const complete = (bytes: Buffer | string): { header: ProxyHeader; length: number } => {
  const result = parse(bytes);
  if (result.state !== 'complete') throw new Error(`expected a complete header, got ${JSON.stringify(result)}`);
  return { header: result.header, length: result.length };
};
const reasonOf = (bytes: Buffer | string): string => {
  const result = parse(bytes);
  if (result.state !== 'invalid') throw new Error(`expected an invalid header, got ${JSON.stringify(result)}`);
  return result.reason;
};

/** Feeds `bytes` one at a time: every strict prefix must be 'incomplete'. @returns The result for the whole. */
function fedByteByByte(bytes: Buffer): ProxyHeaderResult {
  for (let i = 0; i < bytes.length; i++) {
    const partial = parseProxyHeader(bytes.subarray(0, i));
    if (partial.state !== 'incomplete') throw new Error(`after ${i} of ${bytes.length} bytes: ${JSON.stringify(partial)}`);
  }
  return parseProxyHeader(bytes);
}

// ---------------------------------------------------------------------------------------------
// A reference decoder, written apart from the parser: what a complete, valid header at the
// start of `buffer` says, or undefined if there is none.

const nodeForm = (text: string): string => new SocketAddress({ address: text, family: 'ipv6' }).address;
const V1_LINE = /^PROXY (?:UNKNOWN(?: [^\r\n]*)?|(TCP4|TCP6) ([^ \r\n]+) ([^ \r\n]+) ([^ \r\n]+) ([^ \r\n]+))\r\n/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function reference(buffer: Buffer): { header: ProxyHeader; length: number } | undefined {
  return buffer[0] === 0x0d ? referenceV2(buffer) : referenceV1(buffer);
}

function referenceV1(buffer: Buffer): { header: ProxyHeader; length: number } | undefined {
  const match = V1_LINE.exec(buffer.toString('latin1', 0, PROXY_V1_MAX_LENGTH));
  if (match === null) return undefined;
  const length = match[0].length;
  const [, protocol, source, destination, sourcePort, destinationPort] = match;
  if (protocol === undefined) return { header: { version: 1, command: 'proxy', family: 'unknown', tlvs: [] }, length };
  const isAddress = (text: string): boolean => (protocol === 'TCP4' ? isIPv4(text) : isIPv6(text) && !text.includes('%'));
  const isPort = (text: string): boolean => /^(?:0|[1-9][0-9]*)$/.test(text) && Number(text) <= 65535;
  if (!isAddress(source!) || !isAddress(destination!) || !isPort(sourcePort!) || !isPort(destinationPort!)) return undefined;
  const address = (text: string): string => (protocol === 'TCP4' ? text : nodeForm(text));
  return {
    header: {
      version: 1,
      command: 'proxy',
      family: protocol === 'TCP4' ? 'tcp4' : 'tcp6',
      source: { address: address(source!), port: Number(sourcePort) },
      destination: { address: address(destination!), port: Number(destinationPort) },
      tlvs: [],
    },
    length,
  };
}

const FAMILIES: Record<number, [ProxyHeader['family'], number]> = {
  0x00: ['unknown', 0],
  0x11: ['tcp4', 12],
  0x12: ['unknown', 12],
  0x21: ['tcp6', 36],
  0x22: ['unknown', 36],
  0x31: ['unix', 216],
  0x32: ['unknown', 216],
};

const SSL_FIELDS: Record<number, 'version' | 'cn' | 'cipher' | 'sigAlg' | 'keyAlg' | undefined> = { 0x21: 'version', 0x22: 'cn', 0x23: 'cipher', 0x24: 'sigAlg', 0x25: 'keyAlg' };

/** The TLVs filling `bytes` from `start`, with where each value starts, or undefined if they do not fill it exactly. */
function splitTlvs(bytes: Buffer, start: number): { type: number; value: Buffer; at: number }[] | undefined {
  const tlvs: { type: number; value: Buffer; at: number }[] = [];
  for (let at = start; at < bytes.length; ) {
    if (at + 3 > bytes.length) return undefined;
    const end = at + 3 + bytes.readUInt16BE(at + 1);
    if (end > bytes.length) return undefined;
    tlvs.push({ type: bytes[at]!, value: Buffer.from(bytes.subarray(at + 3, end)), at: at + 3 });
    at = end;
  }
  return tlvs;
}

function referenceV2(buffer: Buffer): { header: ProxyHeader; length: number } | undefined {
  if (buffer.length < 16 || !buffer.subarray(0, 12).equals(SIGNATURE)) return undefined;
  if (buffer[12] !== LOCAL && buffer[12] !== PROXY) return undefined;
  const layout = FAMILIES[buffer[13]!];
  if (layout === undefined) return undefined;
  const length = 16 + buffer.readUInt16BE(14);
  if (buffer.length < length) return undefined;
  const bytes = buffer.subarray(0, length);
  const proxied = buffer[12] === PROXY;
  const [family, size] = layout;
  if (proxied && length - 16 < size) return undefined;
  const header: ProxyHeader = { version: 2, command: proxied ? 'proxy' : 'local', family: proxied ? family : 'unknown', tlvs: [] };
  const port = (at: number): number => bytes.readUInt16BE(at);
  const ipv6 = (at: number): string => nodeForm(bytes.toString('hex', at, at + 16).replace(/(.{4})(?!$)/g, '$1:'));
  const unix = (at: number): string => {
    const path = bytes.toString('utf8', at, at + 108);
    return path.startsWith('\0') ? (path.slice(1).split('\0')[0]! === '' ? '' : `@${path.slice(1).split('\0')[0]}`) : path.split('\0')[0]!;
  };
  if (header.family === 'tcp4') {
    header.source = { address: [...bytes.subarray(16, 20)].join('.'), port: port(24) };
    header.destination = { address: [...bytes.subarray(20, 24)].join('.'), port: port(26) };
  } else if (header.family === 'tcp6') {
    header.source = { address: ipv6(16), port: port(48) };
    header.destination = { address: ipv6(32), port: port(50) };
  } else if (header.family === 'unix') {
    header.source = { address: unix(16), port: 0 };
    header.destination = { address: unix(124), port: 0 };
  }
  const tlvs = splitTlvs(bytes, 16 + Math.min(size, length - 16));
  if (tlvs === undefined) return undefined;
  header.tlvs = tlvs.map(({ type, value }) => ({ type, value }));
  const once = (list: { type: number }[], types: number[]): boolean => types.every((type) => list.filter((item) => item.type === type).length <= 1);
  if (!once(tlvs, [0x01, 0x02, 0x03, 0x05, 0x20, 0x30])) return undefined;
  const utf8 = (value: Buffer): string | undefined => {
    try {
      return strictUtf8.decode(value);
    } catch {
      return undefined;
    }
  };
  const ascii = (value: Buffer): string | undefined => (/^[\x00-\x7f]*$/.test(value.toString('latin1')) ? value.toString('latin1') : undefined);
  for (const { type, value, at } of tlvs) {
    if (type === 0x01) header.alpn = value.toString('latin1');
    if (type === 0x02) {
      header.authority = utf8(value);
      if (header.authority === undefined) return undefined;
    }
    if (type === 0x03) {
      if (value.length !== 4 || !sealed(bytes, at).equals(bytes)) return undefined;
    }
    if (type === 0x05) {
      if (value.length > 128) return undefined;
      header.uniqueId = value;
    }
    if (type === 0x20) {
      if (value.length < 5) return undefined;
      const client = value[0]!;
      const verify = value.readUInt32BE(1);
      header.ssl = { client, verify, verified: verify === 0 && (client & 6) !== 0 };
      const subs = splitTlvs(value, 5);
      if (subs === undefined || !once(subs, [0x21, 0x22, 0x23, 0x24, 0x25])) return undefined;
      for (const sub of subs) {
        const field = SSL_FIELDS[sub.type];
        if (field === undefined) continue;
        const text = sub.type === 0x22 ? utf8(sub.value) : ascii(sub.value);
        if (text === undefined) return undefined;
        header.ssl[field] = text;
      }
    }
    if (type === 0x30) {
      header.netns = ascii(value);
      if (header.netns === undefined) return undefined;
    }
  }
  return { header, length };
}

// ---------------------------------------------------------------------------------------------
// Generating valid headers, with what they say

interface Generated {
  bytes: Buffer;
  header: ProxyHeader;
}

const octet = fc.integer({ min: 0, max: 255 });
const quad = fc.tuple(octet, octet, octet, octet);
const port = fc.oneof(fc.integer({ min: 0, max: 65535 }), fc.constantFrom(0, 80, 443, 65535));
/** IPv6 groups, biased towards the zeros and 0xffff that decide how an address is written. */
const ipv6Words = fc.array(fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 });
const fullForm = (words: number[]): string => words.map((word) => word.toString(16)).join(':');
const wordsHex = (words: number[]): string => words.map((word) => word.toString(16).padStart(4, '0')).join('');

/** An IPv6 address as a v1 sender may write it: compressed, full, or padded upper case. */
const ipv6Text = fc.tuple(ipv6Words, fc.integer({ min: 0, max: 2 })).map(([words, style]) => {
  const canonical = nodeForm(fullForm(words));
  const text = style === 0 ? canonical : style === 1 ? fullForm(words) : words.map((word) => word.toString(16).toUpperCase().padStart(4, '0')).join(':');
  return { text, canonical };
});

const v1Tcp4: fc.Arbitrary<Generated> = fc.tuple(quad, quad, port, port).map(([source, destination, sourcePort, destinationPort]) => ({
  bytes: Buffer.from(`PROXY TCP4 ${source.join('.')} ${destination.join('.')} ${sourcePort} ${destinationPort}\r\n`),
  header: {
    version: 1,
    command: 'proxy',
    family: 'tcp4',
    source: { address: source.join('.'), port: sourcePort },
    destination: { address: destination.join('.'), port: destinationPort },
    tlvs: [],
  },
}));

const v1Tcp6: fc.Arbitrary<Generated> = fc.tuple(ipv6Text, ipv6Text, port, port).map(([source, destination, sourcePort, destinationPort]) => ({
  bytes: Buffer.from(`PROXY TCP6 ${source.text} ${destination.text} ${sourcePort} ${destinationPort}\r\n`),
  header: {
    version: 1,
    command: 'proxy',
    family: 'tcp6',
    source: { address: source.canonical, port: sourcePort },
    destination: { address: destination.canonical, port: destinationPort },
    tlvs: [],
  },
}));

/** `PROXY UNKNOWN`, alone or with anything but CR and LF after a space, up to 107 bytes in all. */
const v1Unknown: fc.Arbitrary<Generated> = fc
  .option(fc.uint8Array({ maxLength: PROXY_V1_MAX_LENGTH - 16 }).map((bytes) => Buffer.from(bytes.map((byte) => (byte === 0x0d || byte === 0x0a ? 0x20 : byte)))), { nil: undefined })
  .map((rest) => ({
    bytes: Buffer.concat([Buffer.from('PROXY UNKNOWN'), rest === undefined ? Buffer.alloc(0) : Buffer.concat([Buffer.from(' '), rest]), Buffer.from('\r\n')]),
    header: { version: 1, command: 'proxy', family: 'unknown', tlvs: [] },
  }));

const v1Header = fc.oneof(v1Tcp4, v1Tcp6, v1Unknown);

/** A TLV and the fields of the header it fills. */
interface GeneratedTlv {
  type: number;
  value: Buffer;
  fields: Partial<ProxyHeader>;
}
const printable = (maxLength: number, minLength = 0) => fc.string({ unit: 'grapheme-ascii', minLength, maxLength });
const unicode = (maxLength: number) => fc.string({ unit: 'grapheme', maxLength }).map((text) => Buffer.from(text, 'utf8'));
const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((array) => Buffer.from(array));

const sslTlv: fc.Arbitrary<GeneratedTlv> = fc
  .record({
    client: fc.integer({ min: 0, max: 7 }),
    verify: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffffffff })),
    version: fc.option(fc.constantFrom('TLSv1.2', 'TLSv1.3'), { nil: undefined }),
    cn: fc.option(unicode(20), { nil: undefined }),
    cipher: fc.option(printable(30), { nil: undefined }),
    sigAlg: fc.option(printable(12), { nil: undefined }),
    keyAlg: fc.option(printable(12), { nil: undefined }),
    others: fc.array(fc.tuple(fc.integer({ min: 0x26, max: 0xff }), bytes(6)), { maxLength: 2 }),
  })
  .map(({ client, verify, version, cn, cipher, sigAlg, keyAlg, others }) => {
    const head = Buffer.alloc(5);
    head[0] = client;
    head.writeUInt32BE(verify, 1);
    const subs = [
      version === undefined ? [] : [tlv(0x21, version)],
      cn === undefined ? [] : [tlv(0x22, cn)],
      cipher === undefined ? [] : [tlv(0x23, cipher)],
      sigAlg === undefined ? [] : [tlv(0x24, sigAlg)],
      keyAlg === undefined ? [] : [tlv(0x25, keyAlg)],
      others.map(([type, value]) => tlv(type, value)),
    ].flat();
    const ssl = { client, verify, verified: verify === 0 && (client & 6) !== 0, version, cn: cn?.toString('utf8'), cipher, sigAlg, keyAlg };
    return { type: 0x20, value: Buffer.concat([head, ...subs]), fields: { ssl } };
  });

/** The TLVs that may come once, each maybe. */
const singularTlvs = fc.tuple(
  fc.option(printable(16, 1).map((alpn) => ({ type: 0x01, value: Buffer.from(alpn), fields: { alpn } })), { nil: undefined }),
  fc.option(unicode(30).map((value) => ({ type: 0x02, value, fields: { authority: value.toString('utf8') } })), { nil: undefined }),
  fc.option(bytes(128).map((value) => ({ type: 0x05, value, fields: { uniqueId: value } })), { nil: undefined }),
  fc.option(sslTlv, { nil: undefined }),
  fc.option(printable(16).map((netns) => ({ type: 0x30, value: Buffer.from(netns), fields: { netns } })), { nil: undefined }),
);
/** The ones that may come any number of times: NOOP, AWS's, and types this parser does not read. */
const repeatableTlv: fc.Arbitrary<GeneratedTlv> = fc.oneof(
  bytes(8).map((value) => ({ type: 0x04, value, fields: {} })),
  printable(22).map((id) => ({ type: 0xea, value: Buffer.concat([Buffer.from([1]), Buffer.from(id)]), fields: {} })),
  fc.tuple(fc.oneof(fc.integer({ min: 0x06, max: 0x1f }), fc.integer({ min: 0x21, max: 0x2f }), fc.integer({ min: 0x31, max: 0xff })), bytes(16)).map(([type, value]) => ({ type, value, fields: {} })),
);
const tlvList: fc.Arbitrary<GeneratedTlv[]> = fc
  .tuple(singularTlvs, fc.array(repeatableTlv, { maxLength: 4 }))
  .map(([singular, repeated]) => [...singular.filter((item): item is GeneratedTlv => item !== undefined), ...repeated])
  .chain((list) => fc.shuffledSubarray(list, { minLength: list.length, maxLength: list.length }));

/** A sun_path: a path, a name in the abstract namespace, or nothing. */
const unixAddress = fc.oneof(
  printable(107, 1).map((path) => ({ bytes: unixPath(path), text: path })),
  printable(107, 1).map((name) => ({ bytes: unixPath(`\0${name}`), text: `@${name}` })),
  fc.constant({ bytes: unixPath(''), text: '' }),
);

const v2Header: fc.Arbitrary<Generated> = fc
  .record({
    proxied: fc.boolean(),
    fam: fc.constantFrom(0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32),
    ipv4: fc.tuple(quad, quad, port, port),
    ipv6: fc.tuple(ipv6Words, ipv6Words, port, port),
    unix: fc.tuple(unixAddress, unixAddress),
    tlvs: tlvList,
    crcAt: fc.option(fc.nat(), { nil: undefined }),
    bareLocal: fc.boolean(),
  })
  .map(({ proxied, fam, ipv4, ipv6, unix, tlvs, crcAt, bareLocal }) => {
    const header: ProxyHeader = { version: 2, command: proxied ? 'proxy' : 'local', family: proxied ? FAMILIES[fam]![0] : 'unknown', tlvs: [] };
    let block: Buffer = Buffer.alloc(0);
    if (fam === 0x11 || fam === 0x12) {
      const [source, destination, sourcePort, destinationPort] = ipv4;
      block = ipv4Block(source, destination, sourcePort, destinationPort);
      if (header.family === 'tcp4') {
        header.source = { address: source.join('.'), port: sourcePort };
        header.destination = { address: destination.join('.'), port: destinationPort };
      }
    } else if (fam === 0x21 || fam === 0x22) {
      const [source, destination, sourcePort, destinationPort] = ipv6;
      block = ipv6Block(wordsHex(source), wordsHex(destination), sourcePort, destinationPort);
      if (header.family === 'tcp6') {
        header.source = { address: nodeForm(fullForm(source)), port: sourcePort };
        header.destination = { address: nodeForm(fullForm(destination)), port: destinationPort };
      }
    } else if (fam === 0x31 || fam === 0x32) {
      block = Buffer.concat([unix[0].bytes, unix[1].bytes]);
      if (header.family === 'unix') {
        header.source = { address: unix[0].text, port: 0 };
        header.destination = { address: unix[1].text, port: 0 };
      }
    }
    // A LOCAL header may leave out the addresses of the family it names, and then has nothing else.
    if (!proxied && bareLocal && fam !== 0) return { bytes: v2(LOCAL, fam, Buffer.alloc(0)), header };
    const records = [...tlvs];
    const crcIndex = crcAt === undefined ? -1 : crcAt % (records.length + 1);
    if (crcIndex >= 0) records.splice(crcIndex, 0, { type: 0x03, value: Buffer.alloc(4), fields: {} });
    let built = v2(proxied ? PROXY : LOCAL, fam, Buffer.concat([block, ...records.map(({ type, value }) => tlv(type, value))]));
    if (crcIndex >= 0) {
      const before = records.slice(0, crcIndex).reduce((sum, { value }) => sum + 3 + value.length, 0);
      built = sealed(built, 16 + block.length + before + 3);
    }
    // What the parser should report: every TLV, the CRC with the value the sender computed.
    let at = 16 + block.length;
    for (const { type, value, fields } of records) {
      header.tlvs.push({ type, value: built.subarray(at + 3, at + 3 + value.length) });
      Object.assign(header, fields);
      at += 3 + value.length;
    }
    return { bytes: built, header };
  });

const anyHeader = fc.oneof(v1Header, v2Header);
const payload = fc.oneof(fc.constant(Buffer.alloc(0)), bytes(64), fc.constant(Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n')));

/**
 * What a header says, to compare: undefined fields dropped, and bytes as hex (Jest compares
 * a Buffer byte by byte, slowly enough to matter over thousands of runs).
 */
/** JSON with keys in order, to compare quickly (Jest's toEqual only runs on a difference, to show it). */
function sorted(value: unknown): string {
  return JSON.stringify(value, (_, item: unknown) =>
    item !== null && typeof item === 'object' && !Array.isArray(item) ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : 1))) : item,
  );
}

function plain(header: ProxyHeader): Record<string, unknown> {
  const defined = (object: object): Record<string, unknown> => Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
  return {
    ...defined(header),
    tlvs: header.tlvs.map(({ type, value }) => `${type}:${value.toString('hex')}`),
    ...(header.uniqueId === undefined ? {} : { uniqueId: header.uniqueId.toString('hex') }),
    ...(header.ssl === undefined ? {} : { ssl: defined(header.ssl) }),
  };
}

// ---------------------------------------------------------------------------------------------

describe('crc32c', () => {
  it('gives the known check value, and those of RFC 3720 B.4', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32c(Buffer.alloc(32, 0x00))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from([...Array(32).keys()]))).toBe(0x46dd794e);
    expect(crc32c(Buffer.from([...Array(32).keys()].reverse()))).toBe(0x113fdb5c);
  });

  it('agrees with the bitwise definition (1,000 runs)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        expect(crc32c(data)).toBe(bitwiseCrc32c(data));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('parseProxyHeader, v1', () => {
  it("reads the spec's example, and leaves the request after it", () => {
    const bytes = Buffer.from('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n');
    const { header, length } = complete(bytes);
    expect(header).toEqual({
      version: 1,
      command: 'proxy',
      family: 'tcp4',
      source: { address: '192.168.0.1', port: 56324 },
      destination: { address: '192.168.0.11', port: 443 },
      tlvs: [],
    });
    expect(length).toBe(47);
    expect(bytes.subarray(length).toString()).toBe('GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n');
  });

  it('reads the longest TCP4 and TCP6 lines (56 and 104 bytes)', () => {
    const tcp4 = complete('PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n');
    expect(tcp4).toMatchObject({ length: 56, header: { source: { address: '255.255.255.255', port: 65535 } } });
    const full = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const tcp6 = complete(`PROXY TCP6 ${full} ${full} 65535 65535\r\n`);
    expect(tcp6).toMatchObject({ length: 104, header: { family: 'tcp6', source: { address: full, port: 65535 }, destination: { address: full } } });
  });

  it('writes IPv6 addresses as socket.remoteAddress does, whatever the form sent', () => {
    const { header } = complete('PROXY TCP6 2001:DB8:0:0:0:0:0:1 0:0:0:0:0:FFFF:0A00:0001 0 1\r\n');
    expect(header.source).toEqual({ address: '2001:db8::1', port: 0 });
    expect(header.destination).toEqual({ address: '::ffff:10.0.0.1', port: 1 });
    expect(complete('PROXY TCP6 ::ffff:10.0.0.1 ::1 1 2\r\n').header.source!.address).toBe('::ffff:10.0.0.1');
  });

  it('reads UNKNOWN, short or with anything before the CRLF, as a header without addresses', () => {
    const expected = { version: 1, command: 'proxy', family: 'unknown', tlvs: [] };
    expect(complete('PROXY UNKNOWN\r\nGET')).toEqual({ header: expected, length: 15 });
    const full = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const worst = `PROXY UNKNOWN ${full} ${full} 65535 65535\r\n`;
    expect(worst.length).toBe(107);
    expect(complete(worst)).toEqual({ header: expected, length: 107 });
    const anything = 'PROXY UNKNOWN whatever \x00\xff\t it says\r\n';
    expect(complete(`${anything}GET`)).toEqual({ header: expected, length: anything.length });
  });

  it.each([
    ['GET / HTTP/1.1\r\n', 'not a PROXY protocol header'],
    ['PROXZ TCP4', 'not a PROXY protocol header'],
    ['PRO\r\n', 'not a PROXY protocol header'],
    ['proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n', 'not a PROXY protocol header'],
    ['PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n', 'v1: expected exactly one space after "PROXY"'],
    ['PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n', 'v1: expected exactly one space after "PROXY"'],
    ['PROXY\r\n', 'v1: missing protocol (TCP4, TCP6 or UNKNOWN)'],
    ['PROXY \r\n', 'v1: missing protocol (TCP4, TCP6 or UNKNOWN)'],
    ['PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n', 'v1: unknown protocol "TCP5" (TCP4, TCP6 or UNKNOWN expected)'],
    ['PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n', 'v1: unknown protocol "tcp4" (TCP4, TCP6 or UNKNOWN expected)'],
    ['PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n', 'v1: unknown protocol "UDP4" (TCP4, TCP6 or UNKNOWN expected)'],
    ['PROXY UNKNOWNS\r\n', 'v1: unknown protocol "UNKNOWNS" (TCP4, TCP6 or UNKNOWN expected)'],
    ['PROXY TCP4\r\n', 'v1: TCP4 without addresses and ports'],
    ['PROXY TCP6\r\n', 'v1: TCP6 without addresses and ports'],
    ['PROXY TCP4 \r\n', 'v1: missing source address (fields take exactly one space between them)'],
    ['PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n', 'v1: missing destination address (fields take exactly one space between them)'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n', 'v1: missing destination port (fields take exactly one space between them)'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', 'v1: the TCP4 line ends after 3 of its 4 fields (addresses and ports)'],
    ['PROXY TCP4 1.2.3.4\r\n', 'v1: the TCP4 line ends after 1 of its 4 fields (addresses and ports)'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n', 'v1: unexpected " " after the destination port'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n', 'v1: unexpected " 3" after the destination port'],
    ['PROXY TCP4 256.1.1.1 5.6.7.8 1 2\r\n', 'v1: bad IPv4 source address "256.1.1.1"'],
    ['PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n', 'v1: bad IPv4 source address "1.2.3.04"'],
    ['PROXY TCP4 1.2.3.4 5.6.7 1 2\r\n', 'v1: bad IPv4 destination address "5.6.7"'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8.9 1 2\r\n', 'v1: bad IPv4 destination address "5.6.7.8.9"'],
    ['PROXY TCP4 ::1 ::1 1 2\r\n', 'v1: bad IPv4 source address "::1"'],
    ['PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n', 'v1: bad IPv6 source address "1.2.3.4"'],
    ['PROXY TCP6 ::1 1:2:3:4:5:6:7:8:9 1 2\r\n', 'v1: bad IPv6 destination address "1:2:3:4:5:6:7:8:9"'],
    ['PROXY TCP6 ::1::2 ::1 1 2\r\n', 'v1: bad IPv6 source address "::1::2"'],
    ['PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n', 'v1: bad IPv6 source address "fe80::1%eth0"'],
    ['PROXY TCP6 ::ffff:01.2.3.4 ::1 1 2\r\n', 'v1: bad IPv6 source address "::ffff:01.2.3.4"'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n', 'v1: bad source port "65536" (0 to 65535, no leading zeros)'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n', 'v1: bad source port "080" (0 to 65535, no leading zeros)'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 00 2\r\n', 'v1: bad source port "00" (0 to 65535, no leading zeros)'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n', 'v1: bad source port "-1" (0 to 65535, no leading zeros)'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 0x50\r\n', 'v1: bad destination port "0x50" (0 to 65535, no leading zeros)'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 1e3\r\n', 'v1: bad destination port "1e3" (0 to 65535, no leading zeros)'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', 'v1: the line ends with a bare LF (CRLF expected)'],
    ['PROXY UNKNOWN\n', 'v1: the line ends with a bare LF (CRLF expected)'],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n', 'v1: CR not followed by LF'],
    ['PROXY TCP4 1.2.3.4\r5.6.7.8', 'v1: CR not followed by LF'],
    ['PROXY UNKNOWN\rX', 'v1: CR not followed by LF'],
    [`PROXY UNKNOWN ${'x'.repeat(92)}\r\n`, 'v1: line longer than 107 bytes'],
    [`PROXY UNKNOWN ${'x'.repeat(200)}`, 'v1: line longer than 107 bytes'],
  ])('refuses %j: %s', (line, reason) => {
    expect(reasonOf(line)).toBe(reason);
  });

  it('takes a line of 107 bytes and refuses one of 108', () => {
    expect(complete(`PROXY UNKNOWN ${'x'.repeat(91)}\r\n`).length).toBe(107);
    const long = `PROXY UNKNOWN ${'x'.repeat(92)}\r\n`;
    expect(reasonOf(long.slice(0, 107))).toBe('v1: line longer than 107 bytes');
    expect(reasonOf(long)).toBe('v1: line longer than 107 bytes');
    expect(parse(long.slice(0, 106)).state).toBe('incomplete');
  });

  it('decides early: a connection that is not from a proxy fails at its first byte', () => {
    for (const first of ['G', 'H', '\x16', 'S', '\0', 'p', '\n', ' ']) {
      expect(reasonOf(first)).toBe('not a PROXY protocol header');
    }
    expect(reasonOf('PU')).toBe('not a PROXY protocol header'); // PUT /
    expect(reasonOf('PROXY TCP4 1.2.3.4 5.6.7.8 x')).toBe('v1: bad source port "x" (0 to 65535, no leading zeros)');
    expect(reasonOf('PROXY TCP4 999')).toBe('v1: bad IPv4 source address "999"');
    expect(reasonOf('PROXY TCP4 1.2.3.4 5.6.7.8 65536')).toBe('v1: bad source port "65536" (0 to 65535, no leading zeros)');
    expect(reasonOf('PROXY TCP6 fe80::1%')).toBe('v1: bad IPv6 source address "fe80::1%"');
    expect(reasonOf('PROXY TCP7')).toBe('v1: unknown protocol "TCP7" (TCP4, TCP6 or UNKNOWN expected)');
  });

  it('waits for the rest of a header fed byte by byte, then gives what it gives whole', () => {
    for (const line of [
      'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n',
      'PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 0 65535\r\n',
      'PROXY UNKNOWN\r\n',
      'PROXY UNKNOWN 1.2.3.4\r\n',
    ]) {
      const bytes = Buffer.from(`${line}SSH-2.0-OpenSSH_9.6\r\n`);
      expect(fedByteByByte(bytes.subarray(0, line.length))).toEqual(parse(bytes));
    }
  });
});

describe('parseProxyHeader, v2', () => {
  it('reads a header HAProxy sent (TCP over IPv4), and leaves the request after it', () => {
    const bytes = Buffer.concat([
      Buffer.from('0d0a0d0a000d0a515549540a2111000cac130001ac130003a6520050', 'hex'),
      Buffer.from('GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n'),
    ]);
    expect(complete(bytes)).toEqual({
      header: {
        version: 2,
        command: 'proxy',
        family: 'tcp4',
        source: { address: '172.19.0.1', port: 42578 },
        destination: { address: '172.19.0.3', port: 80 },
        tlvs: [],
      },
      length: 28,
    });
  });

  it('reads TCP over IPv6, writing addresses as socket.remoteAddress does', () => {
    const block = ipv6Block('20010db8000000000000000000000001', '00000000000000000000ffff0a000001', 51234, 443);
    expect(complete(v2(PROXY, 0x21, block)).header).toEqual({
      version: 2,
      command: 'proxy',
      family: 'tcp6',
      source: { address: '2001:db8::1', port: 51234 },
      destination: { address: '::ffff:10.0.0.1', port: 443 },
      tlvs: [],
    });
  });

  it('reads UNIX stream paths, in the abstract namespace too', () => {
    const { header, length } = complete(v2(PROXY, 0x31, Buffer.concat([unixPath('/run/haproxy/client.sock'), unixPath('\0proxy')])));
    expect(length).toBe(16 + 216);
    expect(header).toMatchObject({ family: 'unix', source: { address: '/run/haproxy/client.sock', port: 0 }, destination: { address: '@proxy', port: 0 } });
  });

  it('reads LOCAL (a health check) without addresses, whatever block and family it carries', () => {
    const local = { version: 2, command: 'local', family: 'unknown', tlvs: [] };
    expect(complete(v2(LOCAL, 0x00, Buffer.alloc(0)))).toEqual({ header: local, length: 16 });
    expect(complete(v2(LOCAL, 0x11, Buffer.alloc(0)))).toEqual({ header: local, length: 16 });
    expect(complete(v2(LOCAL, 0x11, ipv4Block([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)))).toEqual({ header: local, length: 28 });
    // A LOCAL header carries TLVs after the addresses of its family, if any; they are read.
    const withTlvs = complete(v2(LOCAL, 0x00, Buffer.concat([tlv(0x05, 'id-1'), tlv(0x04, Buffer.alloc(2))])));
    expect(withTlvs.header).toEqual({ ...local, uniqueId: Buffer.from('id-1'), tlvs: [{ type: 5, value: Buffer.from('id-1') }, { type: 4, value: Buffer.alloc(2) }] });
    expect(complete(v2(LOCAL, 0x21, Buffer.concat([Buffer.alloc(36), tlv(0x01, 'h2')]))).header.alpn).toBe('h2');
  });

  it('reads UNSPEC, UDP and UNIX datagram as unknown, without addresses, still reading the TLVs', () => {
    expect(complete(v2(PROXY, 0x00, tlv(0x01, 'h2'))).header).toEqual({ version: 2, command: 'proxy', family: 'unknown', alpn: 'h2', tlvs: [{ type: 1, value: Buffer.from('h2') }] });
    for (const [fam, size] of [
      [0x12, 12],
      [0x22, 36],
      [0x32, 216],
    ] as const) {
      const { header, length } = complete(v2(PROXY, fam, Buffer.concat([Buffer.alloc(size, 1), tlv(0x02, 'example.com')])));
      expect({ header, length }).toEqual({
        header: { version: 2, command: 'proxy', family: 'unknown', authority: 'example.com', tlvs: [{ type: 2, value: Buffer.from('example.com') }] },
        length: 16 + size + 14,
      });
    }
  });

  const tcp4 = ipv4Block([10, 0, 0, 1], [10, 0, 0, 2], 40000, 443);

  it('reads each TLV the spec registers, and keeps all of them in order', () => {
    const ssl = Buffer.concat([
      Buffer.from([0x07, 0, 0, 0, 0]),
      tlv(0x21, 'TLSv1.3'),
      tlv(0x22, 'client.example.com'),
      tlv(0x23, 'TLS_AES_128_GCM_SHA256'),
      tlv(0x24, 'RSA-SHA256'),
      tlv(0x25, 'RSA2048'),
      tlv(0x2f, Buffer.from([1, 2])), // a subtype not read
    ]);
    const vpce = Buffer.concat([Buffer.from([0x01]), Buffer.from('vpce-08d2bf15fac5001c9')]);
    const records = [
      tlv(0x01, 'h2'),
      tlv(0x02, 'bücher.example'),
      tlv(0x04, Buffer.alloc(3)),
      tlv(0x05, Buffer.from('0123456789abcdef', 'hex')),
      tlv(0x20, ssl),
      tlv(0x30, 'blue'),
      tlv(0xea, vpce),
      tlv(0xe0, Buffer.from([9])),
    ];
    const { header, length } = complete(Buffer.concat([v2(PROXY, 0x11, Buffer.concat([tcp4, ...records])), Buffer.from('payload')]));
    expect(length).toBe(16 + 12 + records.reduce((sum, record) => sum + record.length, 0));
    expect(header).toEqual({
      version: 2,
      command: 'proxy',
      family: 'tcp4',
      source: { address: '10.0.0.1', port: 40000 },
      destination: { address: '10.0.0.2', port: 443 },
      alpn: 'h2',
      authority: 'bücher.example',
      uniqueId: Buffer.from('0123456789abcdef', 'hex'),
      ssl: { client: 7, verify: 0, verified: true, version: 'TLSv1.3', cn: 'client.example.com', cipher: 'TLS_AES_128_GCM_SHA256', sigAlg: 'RSA-SHA256', keyAlg: 'RSA2048' },
      netns: 'blue',
      tlvs: [
        { type: ProxyTlvType.ALPN, value: Buffer.from('h2') },
        { type: ProxyTlvType.AUTHORITY, value: Buffer.from('bücher.example') },
        { type: ProxyTlvType.NOOP, value: Buffer.alloc(3) },
        { type: ProxyTlvType.UNIQUE_ID, value: Buffer.from('0123456789abcdef', 'hex') },
        { type: ProxyTlvType.SSL, value: ssl },
        { type: ProxyTlvType.NETNS, value: Buffer.from('blue') },
        { type: ProxyTlvType.AWS, value: vpce },
        { type: 0xe0, value: Buffer.from([9]) },
      ],
    });
  });

  it('says a client certificate was verified only if there was one and its verify field is 0', () => {
    const sslOf = (client: number, verify: number) => {
      const value = Buffer.from([client, 0, 0, 0, 0]);
      value.writeUInt32BE(verify, 1);
      return complete(v2(PROXY, 0x11, Buffer.concat([tcp4, tlv(0x20, value)]))).header.ssl;
    };
    expect(sslOf(0x01, 0)).toEqual({ client: 1, verify: 0, verified: false }); // TLS, no certificate
    expect(sslOf(0x03, 0)).toEqual({ client: 3, verify: 0, verified: true });
    expect(sslOf(0x05, 0)).toEqual({ client: 5, verify: 0, verified: true });
    expect(sslOf(0x03, 20)).toEqual({ client: 3, verify: 20, verified: false });
  });

  it('checks a CRC32C, where ever it is among the TLVs', () => {
    const body = (before: Buffer[], after: Buffer[]) => Buffer.concat([tcp4, ...before, tlv(0x03, Buffer.alloc(4)), ...after]);
    for (const [before, after] of [
      [[], []],
      [[tlv(0x01, 'h2')], [tlv(0x05, 'id')]],
      [[tlv(0x04, Buffer.alloc(7)), tlv(0xe1, 'x')], []],
    ]) {
      const unsealed = v2(PROXY, 0x11, body(before, after));
      const at = 16 + 12 + before.reduce((sum, record) => sum + record.length, 0) + 3;
      const header = sealed(unsealed, at);
      const { tlvs } = complete(header).header;
      expect(tlvs.find((record) => record.type === 0x03)!.value).toEqual(header.subarray(at, at + 4));
      const wrong = Buffer.from(header);
      wrong[at + 3]! ^= 1;
      expect(reasonOf(wrong)).toMatch(/^v2: CRC32C mismatch \(the header says 0x[0-9a-f]{8}, its bytes give 0x[0-9a-f]{8}\)$/);
      const changed = Buffer.from(header);
      changed[17]! ^= 0x80; // the source address, in a header that is otherwise fine
      expect(reasonOf(changed)).toMatch(/^v2: CRC32C mismatch/);
    }
  });

  it('reads a header of the largest size, and waits for it until its last byte', () => {
    const header = v2(PROXY, 0x11, Buffer.concat([tcp4, tlv(0x04, Buffer.alloc(0xffff - 12 - 3))]));
    expect(header.length).toBe(PROXY_V2_MAX_LENGTH);
    expect(parse(header.subarray(0, PROXY_V2_MAX_LENGTH - 1)).state).toBe('incomplete');
    expect(complete(Buffer.concat([header, Buffer.from('x')])).length).toBe(PROXY_V2_MAX_LENGTH);
  });

  it('copies TLV values: the header does not change with the buffer it was read from', () => {
    const bytes = v2(PROXY, 0x11, Buffer.concat([tcp4, tlv(0x05, 'id-1'), tlv(0xe0, 'x')]));
    const { header } = complete(bytes);
    bytes.fill(0);
    expect(header.uniqueId).toEqual(Buffer.from('id-1'));
    expect(header.tlvs[1]!.value).toEqual(Buffer.from('x'));
  });

  const ssl = (...subs: Buffer[]) => tlv(0x20, Buffer.concat([Buffer.from([1, 0, 0, 0, 0]), ...subs]));
  it.each([
    ['a signature that goes wrong', Buffer.from('0d0a0d0b', 'hex'), 'not a PROXY protocol header'],
    ['version 1', v2(0x11, 0x11, tcp4), 'v2: unsupported version 1'],
    ['version 3', v2(0x31, 0x11, tcp4), 'v2: unsupported version 3'],
    ['command 2', v2(0x22, 0x11, tcp4), 'v2: unsupported command 0x2 (0x0 LOCAL or 0x1 PROXY expected)'],
    ['command 15', v2(0x2f, 0x11, tcp4), 'v2: unsupported command 0xf (0x0 LOCAL or 0x1 PROXY expected)'],
    ['family 4', v2(PROXY, 0x41, tcp4), 'v2: unsupported address family and protocol 0x41'],
    ['protocol 3', v2(PROXY, 0x13, tcp4), 'v2: unsupported address family and protocol 0x13'],
    ['AF_INET with UNSPEC protocol', v2(PROXY, 0x10, tcp4), 'v2: unsupported address family and protocol 0x10'],
    ['UNSPEC family with STREAM', v2(LOCAL, 0x01, Buffer.alloc(0)), 'v2: unsupported address family and protocol 0x01'],
    ['IPv4 addresses cut short', v2(PROXY, 0x11, tcp4.subarray(0, 8)), 'v2: length 8 is shorter than the 12-byte address block of TCP over IPv4'],
    ['IPv6 addresses cut short', v2(PROXY, 0x21, Buffer.alloc(12)), 'v2: length 12 is shorter than the 36-byte address block of TCP over IPv6'],
    ['UNIX addresses cut short', v2(PROXY, 0x31, Buffer.alloc(108)), 'v2: length 108 is shorter than the 216-byte address block of UNIX stream'],
    ['UDP addresses cut short', v2(PROXY, 0x12, Buffer.alloc(0)), 'v2: length 0 is shorter than the 12-byte address block of UDP over IPv4'],
    ['2 bytes after the TLVs', v2(PROXY, 0x11, Buffer.concat([tcp4, tlv(0x01, 'h2'), Buffer.from([0x04, 0])])), 'v2: 2 byte(s) left at the end of the header, too few for a TLV'],
    ['a TLV running past the header', v2(PROXY, 0x11, Buffer.concat([tcp4, tlv(0x01, 'h2').subarray(0, 4)])), 'v2: TLV 0x01 of 2 bytes runs past the end of the header'],
    ['a TLV running into the next bytes', Buffer.concat([v2(PROXY, 0x11, Buffer.concat([tcp4, tlv(0x04, 'abc')]), 12 + 3 + 2), Buffer.from('c')]), 'v2: TLV 0x04 of 3 bytes runs past the end of the header'],
    ['an SSL TLV too short', v2(PROXY, 0x11, Buffer.concat([tcp4, tlv(0x20, Buffer.from([1, 0, 0]))])), 'v2: SSL TLV of 3 bytes, shorter than its 5-byte client and verify fields'],
    ['an SSL sub-TLV running past it', v2(PROXY, 0x11, Buffer.concat([tcp4, ssl(tlv(0x22, 'cn').subarray(0, 4))])), 'v2: TLV 0x22 of 2 bytes runs past the end of the SSL TLV'],
    ['a byte left in an SSL TLV', v2(PROXY, 0x11, Buffer.concat([tcp4, ssl(tlv(0x21, 'TLSv1.3'), Buffer.from([0]))])), 'v2: 1 byte(s) left at the end of the SSL TLV, too few for a TLV'],
    ['a CRC32C of 3 bytes', v2(PROXY, 0x11, Buffer.concat([tcp4, tlv(0x03, Buffer.alloc(3))])), 'v2: CRC32C TLV of 3 bytes (4 expected)'],
    ['two ALPNs', v2(PROXY, 0x11, Buffer.concat([tcp4, tlv(0x01, 'h2'), tlv(0x01, 'http/1.1')])), 'v2: more than one ALPN TLV'],
    ['two SSL TLVs', v2(PROXY, 0x11, Buffer.concat([tcp4, ssl(), ssl()])), 'v2: more than one SSL TLV'],
    ['two CNs', v2(PROXY, 0x11, Buffer.concat([tcp4, ssl(tlv(0x22, 'a'), tlv(0x22, 'b'))])), 'v2: more than one SSL CN TLV'],
    ['a UNIQUE_ID of 129 bytes', v2(PROXY, 0x11, Buffer.concat([tcp4, tlv(0x05, Buffer.alloc(129))])), 'v2: UNIQUE_ID TLV of 129 bytes (128 at most)'],
    ['an AUTHORITY not in UTF-8', v2(PROXY, 0x11, Buffer.concat([tcp4, tlv(0x02, Buffer.from([0x61, 0xc3]))])), 'v2: the AUTHORITY TLV is not UTF-8'],
    ['a CN not in UTF-8', v2(PROXY, 0x11, Buffer.concat([tcp4, ssl(tlv(0x22, Buffer.from([0xff])))])), 'v2: the SSL CN is not UTF-8'],
    ['a cipher not in ASCII', v2(PROXY, 0x11, Buffer.concat([tcp4, ssl(tlv(0x23, Buffer.from('AES-é')))])), 'v2: the SSL cipher is not US-ASCII'],
    ['a NETNS not in ASCII', v2(PROXY, 0x11, Buffer.concat([tcp4, tlv(0x30, Buffer.from([0x80]))])), 'v2: the NETNS TLV is not US-ASCII'],
  ])('refuses %s', (_, bytes, reason) => {
    expect(reasonOf(bytes)).toBe(reason);
  });

  it('decides early: at the first wrong byte of the signature, version, command and family, and at the length', () => {
    for (let i = 1; i < 12; i++) {
      const wrong = Buffer.from(SIGNATURE.subarray(0, i + 1));
      wrong[i]! ^= 0x40;
      expect(reasonOf(wrong)).toBe('not a PROXY protocol header');
    }
    expect(reasonOf(Buffer.concat([SIGNATURE, Buffer.from([0x31])]))).toBe('v2: unsupported version 3');
    expect(reasonOf(Buffer.concat([SIGNATURE, Buffer.from([0x23])]))).toMatch(/^v2: unsupported command/);
    expect(reasonOf(Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x51])]))).toMatch(/^v2: unsupported address family/);
    expect(reasonOf(Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x11, 0, 4])]))).toMatch(/^v2: length 4 is shorter/);
  });

  it('waits for the rest of a header fed byte by byte, then gives what it gives whole', () => {
    const ssl = tlv(0x20, Buffer.concat([Buffer.from([3, 0, 0, 0, 0]), tlv(0x22, 'cn')]));
    for (const header of [
      Buffer.from('0d0a0d0a000d0a515549540a2111000cac130001ac130003a6520050', 'hex'),
      v2(LOCAL, 0x00, Buffer.alloc(0)),
      v2(PROXY, 0x21, Buffer.concat([Buffer.alloc(36, 7), tlv(0x01, 'h2'), ssl])),
      sealed(v2(PROXY, 0x11, Buffer.concat([tcp4, tlv(0x03, Buffer.alloc(4))])), 31),
    ]) {
      const bytes = Buffer.concat([header, Buffer.from('\x16\x03\x01 a TLS ClientHello')]);
      expect(fedByteByByte(header)).toEqual(parse(bytes));
      expect(complete(bytes).length).toBe(header.length);
    }
  });
});

describe('parseProxyHeader, fuzzed', () => {
  it('(a) reads a generated header, whatever follows it, as exactly its bytes and what it says (3,000 runs)', () => {
    fc.assert(
      fc.property(anyHeader, payload, ({ bytes, header }, after) => {
        const result = complete(Buffer.concat([bytes, after]));
        const alone = complete(bytes); // the bytes after it change nothing
        const [actual, aloneToo, wanted] = [result, alone, { header, length: bytes.length }].map(({ header, length }) => ({ header: plain(header), length }));
        if (sorted(actual) !== sorted(wanted)) expect(actual).toEqual(wanted);
        if (sorted(aloneToo) !== sorted(wanted)) expect(aloneToo).toEqual(wanted);
      }),
      { numRuns: 3000 },
    );
  });

  it('(b) finds every strict start of a generated header incomplete (500 runs)', () => {
    fc.assert(
      fc.property(anyHeader, ({ bytes }) => {
        for (let i = 0; i < bytes.length; i++) {
          const result = parseProxyHeader(bytes.subarray(0, i));
          if (result.state !== 'incomplete') throw new Error(`${i} of ${bytes.length} bytes: ${JSON.stringify(result)}`);
        }
      }),
      { numRuns: 500 },
    );
  });

  // Bytes of every kind: random, random after the start of a header, random after a whole
  // header, and text that looks much like a v1 line.
  const v1Alphabet = fc.constantFrom(...'PROXY TCP46UNKOW0123456789abcdefABCDEF:.% \r\n\x00\xff'.split(''));
  const v1Like = fc.tuple(fc.constantFrom('', 'PROXY ', 'PROXY TCP4 ', 'PROXY TCP6 ', 'PROXY UNKNOWN'), fc.string({ unit: v1Alphabet, maxLength: 120 })).map(([start, rest]) => Buffer.from(start + rest, 'latin1'));
  const v2Like = fc
    .tuple(fc.constantFrom(0x20, 0x21, 0x22, 0x11), fc.constantFrom(0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32, 0x13, 0x01), fc.integer({ min: 0, max: 300 }), bytes(320))
    .map(([verCmd, fam, length, rest]) => v2(verCmd, fam, rest, length));
  const noise = fc.oneof(
    bytes(200),
    fc.tuple(fc.constantFrom(Buffer.from('P'), Buffer.from('PROXY '), SIGNATURE, Buffer.concat([SIGNATURE, Buffer.from([0x21, 0x11])])), bytes(200)).map((parts) => Buffer.concat(parts)),
    fc.tuple(anyHeader, bytes(40)).map(([{ bytes: header }, rest]) => Buffer.concat([header, rest])),
    v1Like,
    v2Like,
  );

  /** The parser and the reference agree: complete exactly when the reference finds a header, with the same one. */
  function agreesWithReference(buffer: Buffer): ProxyHeaderResult {
    const result = parseProxyHeader(buffer);
    const expected = reference(buffer);
    if (result.state === 'complete') {
      expect(result.length).toBeLessThanOrEqual(buffer.length);
      const [actual, wanted] = [{ header: plain(result.header), length: result.length }, expected && { header: plain(expected.header), length: expected.length }];
      if (sorted(actual) !== sorted(wanted)) expect(actual).toEqual(wanted ?? 'no header');
    } else if (expected !== undefined) {
      expect({ state: result.state, found: expected }).toEqual({ state: result.state, found: undefined });
    }
    if (result.state === 'incomplete' && buffer.length >= (buffer[0] === 0x50 ? PROXY_V1_MAX_LENGTH : PROXY_V2_MAX_LENGTH)) throw new Error(`incomplete after ${buffer.length} bytes`);
    if (result.state === 'invalid' && !/^(not a PROXY protocol header$|v[12]: )/.test(result.reason)) throw new Error(`reason: ${result.reason}`);
    return result;
  }

  it('(c) never throws on random bytes, and reads a header exactly when the reference decoder finds one (20,000 runs)', () => {
    const states = { incomplete: 0, invalid: 0, complete: 0 };
    fc.assert(
      fc.property(noise, (buffer) => {
        states[agreesWithReference(buffer).state]++;
      }),
      { numRuns: 20_000 },
    );
    // Every outcome was reached, each many times.
    expect(Math.min(states.incomplete, states.invalid, states.complete)).toBeGreaterThan(500);
  });

  it('(c) goes from incomplete to one outcome that more bytes never change (3,000 runs)', () => {
    fc.assert(
      fc.property(noise, (buffer) => {
        let settled: ProxyHeaderResult | undefined;
        for (let i = 1; i <= buffer.length; i++) {
          const result = parseProxyHeader(buffer.subarray(0, i));
          // The same header, or invalid still (a reason may quote more of the bytes at fault).
          if (settled?.state === 'complete') {
            if (result.state !== 'complete' || result.length !== settled.length || sorted(plain(result.header)) !== sorted(plain(settled.header))) expect(result).toEqual(settled);
          }
          else if (settled?.state === 'invalid') expect(result.state).toBe('invalid');
          else if (result.state !== 'incomplete') settled = result;
        }
      }),
      { numRuns: 3000 },
    );
  });

  type Mutation = (bytes: Buffer) => Buffer;
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    // flip one byte to another value
    fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([at, xor]): Mutation => (bytes) => {
      const copy = Buffer.from(bytes);
      if (copy.length > 0) copy[at % copy.length]! ^= xor;
      return copy;
    }),
    // truncate
    fc.nat().map((at): Mutation => (bytes) => bytes.subarray(0, at % (bytes.length + 1))),
    // drop or insert a byte
    fc.tuple(fc.nat(), fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined })).map(([at, byte]): Mutation => (bytes) => {
      const i = at % (bytes.length + 1);
      return Buffer.concat([bytes.subarray(0, i), byte === undefined ? Buffer.alloc(0) : Buffer.from([byte]), bytes.subarray(byte === undefined ? i + 1 : i)]);
    }),
    // extend (or shrink) a 16-bit length: a v2 header's, or any two bytes read as one, as a TLV's would be
    fc.tuple(fc.nat(), fc.integer({ min: -3, max: 300 })).map(([at, delta]): Mutation => (bytes) => {
      const copy = Buffer.from(bytes);
      if (copy.length < 2) return copy;
      const i = copy[0] === 0x0d && at % 2 === 0 && copy.length >= 16 ? 14 : at % (copy.length - 1);
      copy.writeUInt16BE((copy.readUInt16BE(i) + delta + 0x10000) % 0x10000, i);
      return copy;
    }),
  );

  it('(d) never accepts a mutated header with wrong fields: invalid, incomplete, or what the reference reads (20,000 runs)', () => {
    const states = { incomplete: 0, invalid: 0, complete: 0 };
    fc.assert(
      fc.property(anyHeader, payload, fc.array(mutation, { minLength: 1, maxLength: 3 }), ({ bytes }, after, mutations) => {
        const mutated = mutations.reduce<Buffer>((buffer, mutate) => mutate(buffer), Buffer.concat([bytes, after]));
        states[agreesWithReference(mutated).state]++;
      }),
      { numRuns: 20_000 },
    );
    // Some mutations keep a header valid (an address byte, the payload), most do not.
    expect(Math.min(states.incomplete, states.invalid, states.complete)).toBeGreaterThan(1000);
  });
});
