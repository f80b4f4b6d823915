/*
 * The PROXY protocol at accept. With real sockets on loopback: the application and the
 * per-peer limit see the client a trusted proxy names; nothing else is believed. In virtual
 * time, with fake sockets a header is fed to chunk by chunk (as a real socket's reads): values,
 * completion, errors, early unsubscription, a synchronous source, a throwing onRefused and the
 * header timeout.
 */
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { firstValueFrom, of, ReplaySubject, Subject, type Subscription } from 'rxjs';
import { accepted, fakeSocket, FakeListener, testScheduler, type FakeSocket } from '../marbles';
import { sleep } from '../support/net';
import { type Accepted, backpressure, handleErrors, handTo, Limiter, listen, serve } from '../../src';
import { proxyHeaderOf, proxyPeerOf, proxyProtocol, type ProxyProtocolOptions } from '../../src/proxy';

/** An HTTP server that answers with the client address it sees, and the proxy behind it. */
const app = createHttpServer((req, res) => {
  res.setHeader('X-Client-Address', String(req.socket.remoteAddress));
  res.end(`${req.socket.remoteAddress} via ${proxyPeerOf(req.socket)?.address ?? 'nothing'} ${proxyHeaderOf(req.socket)?.authority ?? ''}\n`);
});

async function loop(options: ProxyProtocolOptions, limiter = new Limiter(10)) {
  const address = new ReplaySubject<AddressInfo>(1);
  const refused: string[] = [];
  const subscription = listen({ host: '127.0.0.1', port: 0, server: { allowHalfOpen: true }, onListening: (a) => address.next(a as AddressInfo) })
    .pipe(handleErrors(), proxyProtocol({ onRefused: (reason) => refused.push(reason), ...options }), backpressure(limiter), serve(handTo(app)))
    .subscribe();
  return { port: (await firstValueFrom(address)).port, subscription, refused };
}

/** Connects (optionally from another loopback address), writes each part in turn, resolves with what came back before the close. */
async function exchange(port: number, parts: (string | Buffer)[], localAddress?: string): Promise<string> {
  const socket: Socket = netConnect({ host: '127.0.0.1', port, localAddress });
  socket.on('error', () => undefined);
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const closed = once(socket, 'close');
  await once(socket, 'connect');
  for (const part of parts) {
    socket.write(part);
    await sleep(20); // separate reads on the other side
  }
  await Promise.race([closed, sleep(3000)]);
  socket.destroy();
  return text;
}

const request = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';

function v2(source: string, sourcePort: number, tlvs: Buffer = Buffer.alloc(0), command = 0x21): Buffer {
  const addresses = Buffer.alloc(12);
  source.split('.').forEach((octet, i) => addresses.writeUInt8(Number(octet), i));
  addresses.set([127, 0, 0, 1], 4);
  addresses.writeUInt16BE(sourcePort, 8);
  addresses.writeUInt16BE(8080, 10);
  const body = Buffer.concat([addresses, tlvs]);
  const head = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, command, 0x11, 0, 0]);
  head.writeUInt16BE(body.length, 14);
  return Buffer.concat([head, body]);
}

describe('proxyProtocol', () => {
  let subscription: Subscription | undefined;
  afterEach(() => subscription?.unsubscribe());

  it('serves a v1 header split across reads as the client it names, the request after it untouched', async () => {
    const l = await loop({ trusted: '127.0.0.1' });
    subscription = l.subscription;
    const reply = await exchange(l.port, ['PROXY TCP4 192.0.2.7 127.0.0.1 5', `1000 8080\r\n${request}`]);
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(reply).toContain('X-Client-Address: 192.0.2.7');
    expect(reply).toContain('192.0.2.7 via 127.0.0.1');
  });

  it('serves a v2 header with its TLVs, and a LOCAL one (a health check) as itself', async () => {
    const l = await loop({ trusted: ['10.0.0.0/8', '127.0.0.0/8'] });
    subscription = l.subscription;
    const authority = Buffer.concat([Buffer.from([0x02, 0x00, 0x0b]), Buffer.from('example.org')]);
    expect(await exchange(l.port, [Buffer.concat([v2('198.51.100.9', 4444, authority), Buffer.from(request)])])).toContain('198.51.100.9 via 127.0.0.1 example.org');
    expect(await exchange(l.port, [Buffer.concat([v2('198.51.100.9', 4444, Buffer.alloc(0), 0x20), Buffer.from(request)])])).toContain('X-Client-Address: 127.0.0.1');
  });

  it('never believes an untrusted address, nor a trusted one without a valid header', async () => {
    const l = await loop({ trusted: '127.0.0.1', headerTimeout: 300 });
    subscription = l.subscription;
    // A forged header from an address that is not a proxy: closed, never served as 192.0.2.66.
    expect(await exchange(l.port, [`PROXY TCP4 192.0.2.66 127.0.0.1 1 8080\r\n${request}`], '127.0.0.2')).toBe('');
    // A proxy's connection without a header, with a broken one, or too slow: closed.
    expect(await exchange(l.port, [request])).toBe('');
    expect(await exchange(l.port, [`PROXY TCP4 999.0.2.1 127.0.0.1 1 8080\r\n${request}`])).toBe('');
    expect(await exchange(l.port, ['PROXY TCP4 192.0.2.1'])).toBe('');
    expect(l.refused).toEqual(['untrusted', 'not a PROXY protocol header', expect.stringMatching(/IPv4/), 'timeout']);
  });

  it("takes an untrusted connection as direct with untrusted: 'direct'", async () => {
    const l = await loop({ trusted: '127.0.0.1', untrusted: 'direct' });
    subscription = l.subscription;
    expect(await exchange(l.port, [request], '127.0.0.2')).toContain('X-Client-Address: 127.0.0.2');
  });

  it("counts the per-peer limit by the address the header names: a client's second connection is closed, another client is served", async () => {
    const held: (() => void)[] = [];
    const slow = createHttpServer((req, res) => held.push(() => res.end(`${req.socket.remoteAddress}\n`)));
    const limiter = new Limiter(10, { perPeer: 1, queueSize: 0 });
    const address = new ReplaySubject<AddressInfo>(1);
    subscription = listen({ host: '127.0.0.1', port: 0, onListening: (a) => address.next(a as AddressInfo) })
      .pipe(handleErrors(), proxyProtocol({ trusted: '127.0.0.1' }), backpressure(limiter), serve(handTo(slow)))
      .subscribe();
    const { port } = await firstValueFrom(address);
    const from = (client: string) => exchange(port, [`PROXY TCP4 ${client} 127.0.0.1 1000 8080\r\n${request}`]);
    const first = from('192.0.2.2');
    await sleep(100);
    const second = await from('192.0.2.2'); // the same client again: over perPeer, closed
    const other = from('192.0.2.3');
    await sleep(100);
    held.forEach((answer) => answer());
    expect([second, await first, await other].map((reply) => reply.split('\r\n\r\n')[1] ?? '')).toEqual(['', '192.0.2.2\n', '192.0.2.3\n']);
    expect(limiter.counts.droppedPerPeer).toBe(1);
  });

  it('rejects bad options, naming them', () => {
    expect(() => proxyProtocol({ trusted: '10.0.0.0/33' })).toThrow(/proxyProtocol: options.trusted entry "10.0.0.0\/33"/);
    expect(() => proxyProtocol({ trusted: '127.0.0.1', untrusted: 'guess' as never })).toThrow('proxyProtocol: options.untrusted must be one of "refuse", "direct", got "guess"');
    expect(() => proxyProtocol({ trusted: '127.0.0.1', headerTimeout: 0 })).toThrow('proxyProtocol: options.headerTimeout must be an integer >= 1, got 0');
    expect(() => proxyProtocol(undefined as never)).toThrow('proxyProtocol: options must be an object, got undefined');
  });
});

interface Feedable extends FakeSocket {
  /** Hands the socket `chunk`, as one read: `'readable'`, then `read()` returns it. */
  feed(chunk: string): void;
  /** What is left unread (put back by `unshift`). */
  unread(): string;
}

function feedable(remoteAddress: string): Feedable {
  const socket = fakeSocket(remoteAddress) as Feedable;
  const queued: Buffer[] = [];
  Object.assign(socket, {
    read: () => queued.shift() ?? null,
    unshift: (chunk: Buffer) => void queued.unshift(chunk),
    feed: (chunk: string) => (queued.push(Buffer.from(chunk, 'latin1')), socket.emit('readable')),
    unread: () => Buffer.concat(queued).toString('latin1'),
  });
  return socket;
}

const HEADER = 'PROXY TCP4 192.0.2.7 127.0.0.1 40001 8080\r\n';
const REQUEST = 'GET / HTTP/1.1\r\n\r\n';
const listener = new FakeListener(() => 0);
const TRUSTED = '127.0.0.1';

describe('proxyProtocol, in virtual time', () => {
  it('emits a trusted connection once its split header is whole, as the client; refuses an untrusted one; completes with its source', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const proxied = feedable(TRUSTED);
      const direct = feedable('192.0.2.99');
      const a = accepted(listener, proxied);
      const b = accepted(listener, direct);
      const refused: string[] = [];
      const source = cold('-a-b----|', { a, b });
      scheduler.schedule(() => proxied.feed(HEADER.slice(0, 9)), 2);
      scheduler.schedule(() => proxied.feed(HEADER.slice(9) + REQUEST), 5);
      expectObservable(source.pipe(proxyProtocol({ trusted: TRUSTED, onRefused: (reason) => refused.push(reason), scheduler }))).toBe('-----a--|', { a });
      expectSubscriptions(source.subscriptions).toBe('^-------!');
      scheduler.schedule(() => {
        expect(refused).toEqual(['untrusted']);
        expect(direct.destroyed).toBe(true);
        expect([proxied.remoteAddress, proxied.remotePort, proxied.destroyed]).toEqual(['192.0.2.7', 40001, false]);
        expect(proxied.unread()).toBe(REQUEST); // the bytes after the header, untouched, for the protocol
        expect(proxied.listenerCount('readable')).toBe(0);
      }, 9);
    });
  });

  it("closes a header not whole within headerTimeout ('timeout'), and an invalid one at once, neither emitted", () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const slow = feedable(TRUSTED);
      const forged = feedable(TRUSTED);
      const refused: [string, number][] = [];
      const source = cold('a-b---------------|', { a: accepted(listener, slow), b: accepted(listener, forged) });
      scheduler.schedule(() => slow.feed('PROXY TCP4 '), 3);
      scheduler.schedule(() => forged.feed('GET / HTTP/1.1\r\n'), 4); // no header from a proxy: never guessed
      expectObservable(source.pipe(proxyProtocol({ trusted: TRUSTED, headerTimeout: 10, onRefused: (reason) => refused.push([reason, scheduler.now()]), scheduler }))).toBe(
        '------------------|',
      );
      flush();
      expect(refused).toEqual([
        ['not a PROXY protocol header', 4],
        ['timeout', 10],
      ]);
      expect([slow.destroyed, forged.destroyed]).toEqual([true, true]);
      expect(scheduler.actions.filter((action) => !action.closed)).toEqual([]); // no timer left
    });
  });

  it('passes errors through and, on error or early unsubscription, closes the connections still reading a header', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, hot, expectObservable, expectSubscriptions, flush }) => {
      const failing = feedable(TRUSTED);
      expectObservable(cold<Accepted>('a-#', { a: accepted(listener, failing) }).pipe(proxyProtocol({ trusted: TRUSTED, scheduler }))).toBe('--#');
      const pending = feedable(TRUSTED);
      const source = hot<Accepted>('-a---', { a: accepted(listener, pending) });
      expectObservable(source.pipe(proxyProtocol({ trusted: TRUSTED, scheduler })), '^--!').toBe('----');
      expectSubscriptions(source.subscriptions).toBe('^--!');
      flush();
      expect([failing.destroyed, pending.destroyed]).toEqual([true, true]);
      expect(pending.listenerCount('readable') + pending.listenerCount('close')).toBe(0);
      expect(scheduler.actions.filter((action) => !action.closed)).toEqual([]); // their timers stopped
    });
  });

  it('handles a synchronous source, a connection closed on arrival, and one that leaves before its header is whole', () => {
    testScheduler().run(({ flush }) => {
      const closed = feedable(TRUSTED);
      closed.destroy();
      const leaving = feedable(TRUSTED);
      const whole = feedable(TRUSTED);
      const seen: Accepted[] = [];
      let completed = false;
      const results = new Subject<Accepted>();
      results.pipe(proxyProtocol({ trusted: TRUSTED })).subscribe({ next: (c) => seen.push(c), complete: () => (completed = true) });
      of(accepted(listener, closed), accepted(listener, leaving), accepted(listener, whole)).subscribe((c) => results.next(c));
      leaving.feed('PROXY TCP4');
      leaving.destroy();
      whole.feed(HEADER);
      expect(seen.map((c) => c.socket)).toEqual([whole]);
      results.complete();
      expect(completed).toBe(true);
      flush();
    });
  });

  it('errors the stream with what onRefused throws, from the accept, a header and the timer alike', () => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const boom = (reason: string): never => {
        throw new Error(`refused: ${reason}`);
      };
      const untrusted = cold('-a', { a: accepted(listener, feedable('192.0.2.99')) });
      expectObservable(untrusted.pipe(proxyProtocol({ trusted: TRUSTED, onRefused: boom, scheduler }))).toBe('-#', undefined, new Error('refused: untrusted'));
      const forged = feedable(TRUSTED);
      scheduler.schedule(() => forged.feed('GET / HTTP/1.1\r\n'), 2);
      expectObservable(cold('a', { a: accepted(listener, forged) }).pipe(proxyProtocol({ trusted: TRUSTED, onRefused: boom, scheduler }))).toBe(
        '--#',
        undefined,
        new Error('refused: not a PROXY protocol header'),
      );
      const silent = cold('a', { a: accepted(listener, feedable(TRUSTED)) });
      expectObservable(silent.pipe(proxyProtocol({ trusted: TRUSTED, headerTimeout: 5, onRefused: boom, scheduler }))).toBe('-----#', undefined, new Error('refused: timeout'));
    });
  });
});
