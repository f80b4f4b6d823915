/*
 * IP address text and trusted-address lists: checked against Node itself (net.isIPv6,
 * net.SocketAddress) and against a 128-bit reference matcher written with BigInts.
 */
import fc from 'fast-check';
import { isIPv6, SocketAddress } from 'node:net';
import { formatIPv6, ipv6Prefix, parseAddressList, parseIPv6 } from '../../src/util/addresses';

/** How Node writes an IPv6 address (what socket.remoteAddress gives). */
const nodeForm = (text: string): string => new SocketAddress({ address: text, family: 'ipv6' }).address;

/** Eight groups, biased towards the zeros and 0xffff that decide how an address is written. */
const words = fc.array(fc.oneof(fc.constant(0), fc.constant(0xffff), fc.constant(1), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 });
const bytesOf = (groups: number[]): Buffer => Buffer.from(groups.flatMap((word) => [word >> 8, word & 0xff]));
const fullForm = (groups: number[]): string => groups.map((word) => word.toString(16)).join(':');

describe('IPv4 addresses', () => {
  it.each([
    ['0.0.0.0', '::ffff:0:0'],
    ['10.0.0.1', '::ffff:a00:1'],
    ['255.255.255.255', '::ffff:ffff:ffff'],
    ['192.168.0.11', '::ffff:c0a8:b'],
  ])('reads the entry %s as the address %s maps', (text, mapped) => {
    expect([text, mapped].map(parseAddressList([text]))).toEqual([true, true]);
  });

  const refused = ['', '1.2.3', '1.2.3.4.5', '256.0.0.0', '01.2.3.4', '1.2.3.00', '1.2.3.-1', '1.2.3.4 ', ' 1.2.3.4', '1..3.4', '0x1.2.3.4', '1.2.3.4/8', '１.2.3.4'];
  it.each(refused)('refuses %j as an address to match', (text) => {
    expect(parseAddressList('0.0.0.0/0 ::/0')(text)).toBe(false);
  });
  it.each(refused.filter((text) => !text.includes('/')))('refuses %j as an entry', (text) => {
    expect(() => parseAddressList([text])).toThrow(new TypeError(`proxy protocol: trusted entry ${JSON.stringify(text)}: ${JSON.stringify(text)} is not an IPv4 or IPv6 address`));
  });
});

describe('parseIPv6 and formatIPv6', () => {
  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'], // the first of equal runs
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'], // a single zero group stays
    ['::ffff:10.0.0.1', '::ffff:10.0.0.1'],
    ['::FFFF:a00:1', '::ffff:10.0.0.1'],
    ['0:0:0:0:0:ffff:0:1', '::ffff:0.0.0.1'],
    ['::2:3', '::0.2.0.3'], // IPv4-compatible, as inet_ntop writes it
    ['::1:0:0:0', '::1:0:0:0'],
    ['::ffff:0:102:304', '::ffff:0:102:304'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['::1:2:3:4:5:6:7', '0:1:2:3:4:5:6:7'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['fe80::1', 'fe80::1'],
  ])('reads %s and writes it as Node does: %s', (text, written) => {
    const bytes = parseIPv6(text);
    expect(bytes).toBeDefined();
    expect(formatIPv6(bytes!)).toBe(written);
    expect(nodeForm(text)).toBe(written);
  });

  it.each(['', ':', ':::', '1', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', ':1::', '1::2:', '12345::', 'g::1', '::1.2.3', '::01.2.3.4', '1.2.3.4::', '::1.2.3.4:5', 'fe80::1%eth0', '::1 ', '1:2:3:4::5:6:7:8'])(
    'refuses %j',
    (text) => {
      expect(parseIPv6(text)).toBeUndefined();
    },
  );

  it('writes any address as Node does, and reads back what it writes (10,000 runs)', () => {
    fc.assert(
      fc.property(words, (groups) => {
        const bytes = bytesOf(groups);
        const [written, node] = [formatIPv6(bytes), nodeForm(fullForm(groups))];
        if (written !== node) expect(written).toBe(node);
        const back = Buffer.from(parseIPv6(written)!).toString('hex');
        if (back !== bytes.toString('hex')) expect(back).toBe(bytes.toString('hex'));
      }),
      { numRuns: 10_000 },
    );
  });

  it('writes an address from the middle of a buffer', () => {
    const buffer = Buffer.concat([Buffer.from([9, 9, 9]), bytesOf([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]), Buffer.from([9])]);
    expect(formatIPv6(buffer, 3)).toBe('2001:db8::1');
  });

  // Texts of every shape: groups with and without a gap, a dotted quad, in either case, with
  // leading zeros, and characters or groups too many or too few.
  const piece = fc.oneof(
    fc.integer({ min: 0, max: 0xffff }).map((word) => word.toString(16)),
    fc.integer({ min: 0, max: 0xffff }).map((word) => word.toString(16).toUpperCase().padStart(4, '0')),
    fc.constant('0'),
    fc.constant(''),
    fc.constant('12345'),
    fc.constant('g'),
    fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 })).map((quad) => quad.join('.')),
    fc.constant('01.2.3.4'),
  );
  // Valid addresses in each way they can be written, and those with one character changed.
  const written = fc.tuple(words, fc.integer({ min: 0, max: 4 })).map(([groups, style]) => {
    const full = fullForm(groups);
    if (style === 0) return full;
    if (style === 1) return nodeForm(full);
    if (style === 2) return nodeForm(full).toUpperCase();
    if (style === 3) return groups.map((word) => word.toString(16).padStart(4, '0')).join(':');
    return `${fullForm(groups.slice(0, 6))}:${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  });
  const edited = fc.tuple(written, fc.nat(), fc.constantFrom('', ':', '.', '0', 'f', '00', '::')).map(([address, at, insert]) => {
    const i = at % (address.length + 1);
    return at % 2 === 0 ? address.slice(0, i) + insert + address.slice(i) : address.slice(0, i) + insert + address.slice(i + 1);
  });
  const text = fc.oneof(
    written,
    edited,
    fc.array(piece, { minLength: 1, maxLength: 10 }).map((pieces) => pieces.join(':')),
    fc.tuple(fc.array(piece, { maxLength: 8 }), fc.array(piece, { maxLength: 8 })).map(([head, tail]) => `${head.join(':')}::${tail.join(':')}`),
    fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF:.'), maxLength: 46 }),
  );

  it('reads exactly the texts net.isIPv6 accepts, but for zone indexes, as Node reads them (20,000 runs)', () => {
    let valid = 0;
    fc.assert(
      fc.property(text, (candidate) => {
        const bytes = parseIPv6(candidate);
        if ((bytes !== undefined) !== isIPv6(candidate)) expect({ candidate, valid: bytes !== undefined }).toEqual({ candidate, valid: isIPv6(candidate) });
        if (bytes !== undefined) {
          valid++;
          const [written, node] = [formatIPv6(bytes), nodeForm(candidate)];
          if (written !== node) expect(written).toBe(node);
        }
      }),
      { numRuns: 20_000 },
    );
    expect(valid).toBeGreaterThan(5000); // the generator does reach valid addresses
  });
});

describe('parseAddressList', () => {
  const trusted = parseAddressList(['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', '::ffff:192.168.0.0/112']);

  it.each([
    ['127.0.0.1', true],
    ['127.0.0.2', false],
    ['10.1.2.3', true],
    ['11.1.2.3', false],
    ['::1', true],
    ['::2', false],
    ['fd12:3456::1', true],
    ['fe80::1', false],
    // What a dual-stack socket reports for IPv4 clients matches the IPv4 entries...
    ['::ffff:127.0.0.1', true],
    ['::ffff:10.255.255.255', true],
    ['::ffff:7f00:1', true],
    ['::ffff:11.0.0.1', false],
    // ...and a range of mapped addresses matches the IPv4 addresses it maps.
    ['192.168.3.4', true],
    ['::ffff:192.168.3.4', true],
    ['192.169.0.1', false],
    // IPv4-compatible addresses are not IPv4 ones.
    ['::127.0.0.1', false],
    ['::7f00:1', false],
    ['not an address', false],
    ['', false],
    ['10.0.0.1/8', false],
  ])('matches %j: %s', (address, matched) => {
    expect(trusted(address)).toBe(matched);
  });

  it('matches nothing for a socket without an address', () => {
    expect(trusted(undefined)).toBe(false);
  });

  it('ignores a zone index on the address checked', () => {
    const linkLocal = parseAddressList('fe80::/10');
    expect(linkLocal('fe80::1%eth0')).toBe(true);
    expect(linkLocal('fe81::1%eth0')).toBe(true);
    expect(linkLocal('fec0::1%eth0')).toBe(false);
  });

  it('reads a string of entries separated by commas or white space', () => {
    const matcher = parseAddressList(' 127.0.0.1,10.0.0.0/8 \n fd00::/8 ,, ');
    expect(['127.0.0.1', '10.9.9.9', 'fd00::9', '192.168.0.1'].map(matcher)).toEqual([true, true, true, false]);
  });

  it('trusts nothing from an empty list', () => {
    for (const list of ['', '  ', []]) {
      const matcher = parseAddressList(list);
      expect(['127.0.0.1', '::1', '::ffff:127.0.0.1'].map(matcher)).toEqual([false, false, false]);
    }
  });

  it('matches everything from 0.0.0.0/0 and ::/0 each in its own family, mapped addresses being IPv4', () => {
    const ipv4 = parseAddressList('0.0.0.0/0');
    expect(['1.2.3.4', '::ffff:1.2.3.4', '::1', '2001:db8::1'].map(ipv4)).toEqual([true, true, false, false]);
    const ipv6 = parseAddressList('::/0');
    expect(['1.2.3.4', '::ffff:1.2.3.4', '::1', '2001:db8::1'].map(ipv6)).toEqual([true, true, true, true]);
  });

  it.each([
    ['10.0.0.0/33', 'prefix length must be 0 to 32'],
    ['fd00::/129', 'prefix length must be 0 to 128'],
    ['10.0.0.0/', 'prefix length must be 0 to 32'],
    ['10.0.0.0/-1', 'prefix length must be 0 to 32'],
    ['10.0.0.0/08', 'prefix length must be 0 to 32'],
    ['10.0.0.0/8/8', 'prefix length must be 0 to 32'],
    ['10.0.0.0/ 8', 'prefix length must be 0 to 32'],
    ['10.0.0.1/8', 'bits are set past the prefix length (did you mean 10.0.0.0/8?)'],
    ['fd00::1/8', 'bits are set past the prefix length (did you mean fd00::/8?)'],
    ['::ffff:10.0.0.1/104', 'bits are set past the prefix length (did you mean ::ffff:10.0.0.0/104?)'],
    ['10.0.0.256', '"10.0.0.256" is not an IPv4 or IPv6 address'],
    ['010.0.0.1', '"010.0.0.1" is not an IPv4 or IPv6 address'],
    ['fe80::1%eth0', '"fe80::1%eth0" is not an IPv4 or IPv6 address'],
    ['localhost', '"localhost" is not an IPv4 or IPv6 address'],
    ['', '"" is not an IPv4 or IPv6 address'],
    ['/8', '"" is not an IPv4 or IPv6 address'],
  ])('refuses the entry %j, naming it: %s', (entry, problem) => {
    expect(() => parseAddressList(['127.0.0.1', entry])).toThrow(new TypeError(`proxy protocol: trusted entry ${JSON.stringify(entry)}: ${problem}`));
  });

  it('refuses entries and lists of the wrong type, and names the list as told', () => {
    expect(() => parseAddressList([42 as unknown as string])).toThrow(new TypeError('proxy protocol: trusted entry 42: must be a string'));
    expect(() => parseAddressList(undefined as unknown as string)).toThrow(TypeError);
    expect(() => parseAddressList('10.0.0.0/33', 'listen: options.allow')).toThrow(
      new TypeError('listen: options.allow entry "10.0.0.0/33": prefix length must be 0 to 32'),
    );
  });

  // The reference: every address as a 128-bit number, IPv4 ones mapped into ::ffff:0:0/96.
  const MAPPED = 0xffffn << 32n;
  const ALL = (1n << 128n) - 1n;
  const networkMask = (prefix: number): bigint => (ALL << BigInt(128 - prefix)) & ALL;
  const v4Text = (value: bigint): string => [24n, 16n, 8n, 0n].map((shift) => (value >> shift) & 0xffn).join('.');
  const v6Text = (value: bigint): string => fullForm([...Array(8)].map((_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn)));

  interface Range {
    base: bigint; // 128-bit, host bits clear
    prefix: number; // of 128
    text: string;
  }
  const range: fc.Arbitrary<Range> = fc.oneof(
    // IPv4, written as such
    fc.tuple(fc.bigInt({ min: 0n, max: 0xffffffffn }), fc.integer({ min: 0, max: 32 })).map(([value, prefix]) => {
      const base = value & (networkMask(96 + prefix) & 0xffffffffn);
      return { base: MAPPED | base, prefix: 96 + prefix, text: prefix === 32 && value % 2n === 0n ? v4Text(base) : `${v4Text(base)}/${prefix}` };
    }),
    // IPv4-mapped, written as IPv6
    fc.tuple(fc.bigInt({ min: 0n, max: 0xffffffffn }), fc.integer({ min: 80, max: 128 })).map(([value, prefix]) => {
      const base = (MAPPED | value) & networkMask(prefix);
      return { base, prefix, text: `${nodeForm(v6Text(base))}/${prefix}` };
    }),
    // Any IPv6
    fc.tuple(fc.bigInt({ min: 0n, max: ALL }), fc.integer({ min: 0, max: 128 })).map(([value, prefix]) => {
      const base = value & networkMask(prefix);
      return { base, prefix, text: prefix === 128 ? v6Text(base) : `${v6Text(base)}/${prefix}` };
    }),
  );

  it('matches as a 128-bit reference does, IPv4 mapped into IPv6 (3,000 runs)', () => {
    const probe = (ranges: Range[]): fc.Arbitrary<bigint> =>
      fc.oneof(
        fc.bigInt({ min: 0n, max: ALL }),
        fc.bigInt({ min: 0n, max: 0xffffffffn }).map((value) => MAPPED | value),
        // near an entry: inside it, or just past either end
        fc.tuple(fc.constantFrom(...ranges), fc.bigInt({ min: -2n, max: ALL })).map(([{ base, prefix }, offset]) => {
          const size = 1n << BigInt(128 - prefix);
          const inside = ((offset % size) + size) % size;
          return (offset < 0n ? base + offset : offset % 3n === 0n ? base + size : base + inside) & ALL;
        }),
      );
    const written = (value: bigint, style: number): string => {
      if ((value & ~0xffffffffn) === MAPPED) {
        if (style === 0) return v4Text(value & 0xffffffffn); // an IPv4 socket
        if (style === 1) return `::ffff:${v4Text(value & 0xffffffffn)}`; // a dual-stack one
      }
      return style === 2 ? v6Text(value) : nodeForm(v6Text(value));
    };
    fc.assert(
      fc.property(
        fc.array(range, { minLength: 1, maxLength: 6 }).chain((ranges) => fc.tuple(fc.constant(ranges), fc.array(fc.tuple(probe(ranges), fc.integer({ min: 0, max: 3 })), { minLength: 1, maxLength: 8 }))),
        ([ranges, probes]) => {
          const matcher = parseAddressList(ranges.map((entry) => entry.text));
          for (const [value, style] of probes) {
            const expected = ranges.some(({ base, prefix }) => (value & networkMask(prefix)) === base);
            const address = written(value, style);
            if (matcher(address) !== expected) expect({ address, matched: matcher(address) }).toEqual({ address, matched: expected });
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('ipv6Prefix', () => {
  it.each([
    ['2001:db8:1:2:3:4:5:6', 64, '2001:db8:1:2::/64'],
    ['2001:DB8:1:2:3:4:5:6', 48, '2001:db8:1::/48'],
    ['2001:db8:1:2:3:4:5:6', 128, '2001:db8:1:2:3:4:5:6/128'],
    ['2001:db8:1:2:3:4:5:6', 0, '::/0'],
    ['2001:db8:1:2:3:4:5:6', 63, '2001:db8:1:2::/63'],
    ['2001:db8:1:3:3:4:5:6', 63, '2001:db8:1:2::/63'],
    ['2001:db8:1:ffff:3:4:5:6', 60, '2001:db8:1:fff0::/60'],
    ['fe80::1%eth0', 64, 'fe80::/64'],
    ['::1', 64, '::/64'],
    // IPv4 clients stay apart
    ['10.1.2.3', 64, '10.1.2.3'],
    ['::ffff:10.1.2.3', 64, '::ffff:10.1.2.3'],
    ['::ffff:a01:203', 64, '::ffff:a01:203'],
    ['not an address', 64, 'not an address'],
  ])('keys %s by /%d as %s', (address, bits, key) => {
    expect(ipv6Prefix(address, bits)).toBe(key);
  });

  it.each([-1, 129, 1.5, Number.NaN])('refuses a prefix length of %d', (bits) => {
    expect(() => ipv6Prefix('::1', bits)).toThrow(/ipv6Prefix: bits/);
  });

  it('gives addresses the same key exactly when their first bits agree (2,000 runs)', () => {
    fc.assert(
      fc.property(words, words, fc.integer({ min: 0, max: 128 }), (a, b, bits) => {
        const [first, second] = [bytesOf(a), bytesOf(b)];
        const mapped = (bytes: Buffer): boolean => bytes.subarray(0, 12).equals(Buffer.from('00000000000000000000ffff', 'hex'));
        fc.pre(!mapped(first) && !mapped(second));
        const agree = [...Array(bits)].every((_, bit) => ((first[bit >> 3]! ^ second[bit >> 3]!) & (0x80 >> (bit & 7))) === 0);
        const [keyA, keyB] = [ipv6Prefix(nodeForm(fullForm(a)), bits), ipv6Prefix(fullForm(b), bits)];
        expect(keyA === keyB).toBe(agree);
        expect(keyA.endsWith(`/${bits}`)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
