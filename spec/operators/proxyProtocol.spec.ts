/*
 * The PROXY protocol at accept, with real sockets on loopback: the application and the
 * per-peer limit see the client a trusted proxy names; nothing else is believed.
 */
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { firstValueFrom, ReplaySubject, type Subscription } from 'rxjs';
import { sleep } from '../support/net';
import { backpressure, handleErrors, handTo, Limiter, listen, proxyHeaderOf, proxyPeerOf, proxyProtocol, serve, type ProxyProtocolOptions } from '../../src';

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
    expect(() => proxyProtocol({ trusted: '127.0.0.1', untrusted: 'guess' as never })).toThrow(`proxyProtocol: options.untrusted must be 'refuse' or 'direct', got "guess"`);
    expect(() => proxyProtocol({ trusted: '127.0.0.1', headerTimeout: 0 })).toThrow('proxyProtocol: options.headerTimeout must be an integer >= 1, got 0');
    expect(() => proxyProtocol(undefined as never)).toThrow('proxyProtocol: options must be an object, got undefined');
  });
});
