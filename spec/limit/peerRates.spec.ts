/* Per-address connection rates: token buckets, in virtual time; memory bounded. */
import { testScheduler, fakeSocket } from '../marbles';
import { Limiter, type LimiterOptions } from '../../src';
import { PeerRates } from '../../src/limit/peerRates';

describe('Limiter perPeerRate', () => {
  it('lets an address open `burst` connections at once and `rate` a second after, others unaffected', () => {
    testScheduler().run(({ cold, flush }) => {
      // Its clock is asyncScheduler's, virtual inside run().
      const clocked = new Limiter(1000, { perPeerRate: { rate: 10, burst: 3 } });
      const seen: string[] = [];
      const open = (address: string) => (clocked.admit(fakeSocket(address)) === undefined ? 'x' : 'o');
      // At 0: 5 from .2 (3 pass), 1 from .3; at 100 ms one more token for .2; at 1 s, full again.
      cold('a 99ms b 899ms c').subscribe((at) => {
        if (at === 'a') seen.push([1, 2, 3, 4, 5].map(() => open('10.0.0.2')).join('') + open('10.0.0.3'));
        if (at === 'b') seen.push(open('10.0.0.2') + open('10.0.0.2'));
        if (at === 'c') seen.push([1, 2, 3, 4].map(() => open('10.0.0.2')).join(''));
      });
      flush();
      expect(seen).toEqual(['oooxxo', 'ox', 'ooox']);
      expect(clocked.counts.droppedPerPeerRate).toBe(4);
    });
  });

  it('hands connections over the rate to onExceeded; one that throws still closes the socket', () => {
    const ended: string[] = [];
    const limiter = new Limiter(10, { perPeerRate: { rate: 1, onExceeded: (socket) => (ended.push(socket.remoteAddress!), socket.destroy()) } });
    limiter.admit(fakeSocket('10.0.0.9'));
    const over = fakeSocket('10.0.0.9');
    expect(limiter.admit(over)).toBeUndefined();
    expect([ended, over.destroyed, limiter.live]).toEqual([['10.0.0.9'], true, 1]);
    const throwing = new Limiter(10, { perPeerRate: { rate: 1, onExceeded: () => { throw new Error('hook'); } } });
    throwing.admit(fakeSocket());
    const socket = fakeSocket();
    expect(throwing.admit(socket)).toBeUndefined();
    expect(socket.destroyed).toBe(true);
  });

  it('counts IPv6 clients by network with ipv6Prefix, IPv4 ones one by one', () => {
    const limiter = new Limiter(100, { perPeerRate: { rate: 1, ipv6Prefix: 64 } });
    const open = (address: string): string => (limiter.admit(fakeSocket(address)) === undefined ? 'x' : 'o');
    expect(['2001:db8::1', '2001:db8::ffff:2', '2001:db8:0:1::1', '10.0.0.1', '10.0.0.2', '::ffff:10.0.0.3', '::ffff:10.0.0.4'].map(open).join('')).toBe('oxooooo');
    const each = new Limiter(100, { perPeerRate: { rate: 1 } });
    expect(['2001:db8::1', '2001:db8::2'].map((a) => (each.admit(fakeSocket(a)) === undefined ? 'x' : 'o')).join('')).toBe('oo');
  });

  it.each([
    [{ perPeerRate: 5 }, /Limiter: options.perPeerRate must be an object, got 5/],
    [{ perPeerRate: { rate: 1, ipv6Prefix: 0 } }, /Limiter: options.perPeerRate.ipv6Prefix must be an integer/],
    [{ perPeerRate: { rate: 1, ipv6Prefix: 129 } }, /Limiter: options.perPeerRate.ipv6Prefix must be an integer/],
    [{ perPeerRate: { rate: 0 } }, /Limiter: options.perPeerRate.rate must be a number > 0, got 0/],
    [{ perPeerRate: { rate: Infinity } }, /Limiter: options.perPeerRate.rate must be a number > 0, got Infinity/],
    [{ perPeerRate: { rate: 5, burst: 0.5 } }, /Limiter: options.perPeerRate.burst must be an integer >= 1, got 0.5/],
    [{ perPeerRate: { rate: 5, maxAddresses: 0 } }, /Limiter: options.perPeerRate.maxAddresses must be an integer >= 1, got 0/],
    [{ perPeerRate: { rate: 5, onExceeded: 'close' } }, /Limiter: options.perPeerRate.onExceeded must be a function, got "close"/],
  ])('rejects %p, naming the option and the value', (options, message) => {
    expect(() => new Limiter(1, options as unknown as LimiterOptions)).toThrow(message);
  });
});

describe('PeerRates', () => {
  it('keeps at most maxAddresses buckets, whatever the number of addresses: a million distinct sources', () => {
    let now = 0;
    const rates = new PeerRates(100, 100, 10_000, () => now);
    let largest = 0;
    let refused = 0;
    for (let i = 0; i < 1_000_000; i++) {
      if (i % 1000 === 0) now += 1; // a thousand new addresses a millisecond
      if (!rates.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)) refused++; // each one's first: allowed
      largest = Math.max(largest, rates.size);
    }
    expect([largest, refused]).toEqual([10_000, 0]);
  });

  it('forgets full buckets first: an address over its rate stays limited when the cap is reached', () => {
    let now = 0;
    const rates = new PeerRates(1, 2, 4, () => now);
    expect([rates.take('flood'), rates.take('flood'), rates.take('flood')]).toEqual([true, true, false]);
    for (const address of ['a', 'b', 'c']) rates.take(address); // one token each, one left
    now = 1500; // a, b and c have filled up again; flood has 1.5 tokens
    rates.take('d'); // at the cap: the full buckets are forgotten, flood's is kept
    expect(rates.size).toBe(2);
    expect([rates.take('flood'), rates.take('flood')]).toEqual([true, false]); // a fresh bucket would allow both
  });
});
