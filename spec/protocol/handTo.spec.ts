/* Handing accepted sockets to Node's own servers: http, https, tls, and over a Unix socket. */
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, createServer as createHttpServer, get } from 'node:http';
import { createServer as createHttpsServer, get as getHttps } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { firstValueFrom, ReplaySubject, type Subscription } from 'rxjs';
import { connect, sleep } from '../support/net';
import { backpressure, handleErrors, handTo, Limiter, listen, serve } from '../../src';

async function until(condition: () => boolean, ms = 3000): Promise<void> {
  for (const started = Date.now(); !condition() && Date.now() - started < ms; ) await sleep(5);
}

const tlsOptions = {
  key: readFileSync(join(__dirname, '..', '..', 'demo', 'certs', 'localhost-key.pem')),
  cert: readFileSync(join(__dirname, '..', '..', 'demo', 'certs', 'localhost-cert.pem')),
};
const ca = tlsOptions.cert;

/** The whole loop, handing connections to `server`; resolves with the bound port or path. */
async function loop(server: Parameters<typeof handTo>[0], where: { port: number; host: string } | { path: string }) {
  const address = new ReplaySubject<AddressInfo | string>(1);
  const subscription = listen({ ...where, server: { allowHalfOpen: true, noDelay: true }, onListening: (a) => address.next(a) })
    .pipe(handleErrors(), backpressure(10), serve(handTo(server)))
    .subscribe();
  return { address: await firstValueFrom(address), subscription };
}

function body(response: import('node:http').IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    response.on('data', (c: Buffer) => (text += c.toString()));
    response.on('end', () => resolve(text));
  });
}

describe('handTo', () => {
  let subscription: Subscription | undefined;
  afterEach(() => subscription?.unsubscribe());

  it("emits 'listening' with the first connection, when the server's address() answers the listener's", async () => {
    const app = createHttpServer((_, res) => res.end('ok'));
    const seen: (AddressInfo | string | null)[] = [];
    app.on('listening', () => seen.push(app.address()));
    const l = await loop(app, { host: '127.0.0.1', port: 0 });
    subscription = l.subscription;
    expect(seen).toEqual([]);
    const [response] = (await once(get({ host: '127.0.0.1', port: (l.address as AddressInfo).port, agent: false }), 'response')) as [import('node:http').IncomingMessage];
    await body(response);
    expect(seen).toEqual([l.address]);
    expect(app.address()).toEqual(l.address);
  });

  it('answers with Connection: close while connections wait, and hands a waiting socket to http with its request intact', async () => {
    const release: (() => void)[] = [];
    const app = createHttpServer((req, res) => release.push(() => res.end(`served ${req.url}`)));
    const address = new ReplaySubject<AddressInfo | string>(1);
    const limiter = new Limiter(1);
    subscription = listen({ host: '127.0.0.1', port: 0, server: { allowHalfOpen: true, noDelay: true }, onListening: (a) => address.next(a) })
      .pipe(handleErrors(), backpressure(limiter), serve(handTo(app)))
      .subscribe();
    const { port } = (await firstValueFrom(address)) as AddressInfo;
    const agent = new Agent({ keepAlive: true });
    const first = once(get({ host: '127.0.0.1', port, path: '/first', agent }), 'response');
    await until(() => release.length === 1);
    const other = new Agent({ keepAlive: true });
    const second = once(get({ host: '127.0.0.1', port, path: '/second', agent: other }), 'response'); // waits for the slot
    await until(() => limiter.waiting === 1);
    release.shift()!();
    const [one] = (await first) as [import('node:http').IncomingMessage];
    expect([one.headers.connection, await body(one)]).toEqual(['close', 'served /first']);
    await until(() => release.length === 1); // the waiting one got the slot, its request read
    release.shift()!();
    const [two] = (await second) as [import('node:http').IncomingMessage];
    expect([two.headers.connection, await body(two)]).toEqual(['keep-alive', 'served /second']); // nobody waits now
    agent.destroy();
    other.destroy();
  });

  it('tracks keep-alive exchanges (busy, then idle at the end of the response) and leaves one that closes busy to its close', async () => {
    const hooks: { keepAlive: boolean; prefinish: number; ownWriteHead: boolean }[] = [];
    const app = createHttpServer((_, res) => {
      hooks.push({ keepAlive: res.shouldKeepAlive, prefinish: res.listenerCount('prefinish'), ownWriteHead: Object.prototype.hasOwnProperty.call(res, 'writeHead') });
      res.end('ok');
    });
    const limiter = new Limiter(10);
    const address = new ReplaySubject<AddressInfo | string>(1);
    subscription = listen({ host: '127.0.0.1', port: 0, server: { allowHalfOpen: true, noDelay: true }, onListening: (a) => address.next(a) })
      .pipe(handleErrors(), backpressure(limiter), serve(handTo(app)))
      .subscribe();
    const { port } = (await firstValueFrom(address)) as AddressInfo;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    for (const headers of [{}, {}, { Connection: 'close' }]) {
      const [response] = (await once(get({ host: '127.0.0.1', port, agent, headers }), 'response')) as [import('node:http').IncomingMessage];
      expect(await body(response)).toBe('ok');
    }
    agent.destroy();
    expect(hooks).toEqual([
      { keepAlive: true, prefinish: 1, ownWriteHead: true },
      { keepAlive: true, prefinish: 1, ownWriteHead: true },
      { keepAlive: false, prefinish: 0, ownWriteHead: false },
    ]);
    // Two exchanges ended idle; the third ended with its connection (counted when it closed).
    await until(() => limiter.live === 0);
    expect(limiter.counts.completed).toBe(3);
  });

  it('takes an exchange answered before its tracking ran (by a listener prepended later) as over: that idle connection makes room', async () => {
    const app = createHttpServer();
    const limiter = new Limiter(1, { queueTimeout: 60_000 });
    const address = new ReplaySubject<AddressInfo | string>(1);
    subscription = listen({ host: '127.0.0.1', port: 0, server: { allowHalfOpen: true, noDelay: true }, onListening: (a) => address.next(a) })
      .pipe(handleErrors(), backpressure(limiter), serve(handTo(app)))
      .subscribe();
    app.prependListener('request', (_, res) => res.end('early')); // runs before handTo's own
    const { port } = (await firstValueFrom(address)) as AddressInfo;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const [first] = (await once(get({ host: '127.0.0.1', port, agent }), 'response')) as [import('node:http').IncomingMessage];
    expect(await body(first)).toBe('early'); // its connection stays open, idle, in the agent
    // The only slot is held by that connection: a second client waits, until it is reclaimed.
    const second = get({ host: '127.0.0.1', port, agent: false });
    let answered = '';
    second.on('response', (r: import('node:http').IncomingMessage) => void body(r).then((t) => (answered = t)));
    second.on('error', () => undefined);
    await until(() => answered !== '');
    expect(answered).toBe('early');
    expect(limiter.counts.reclaimed).toBe(1);
    agent.destroy();
  });

  it('keeps a connection busy while a pipelined exchange is in flight, though the next one was answered before its tracking ran: the first is not cut off', async () => {
    const app = createHttpServer((req, res) => void (req.url === '/early' || setTimeout(() => res.end('slow'), 200)));
    const limiter = new Limiter(1, { queueTimeout: 60_000 });
    const address = new ReplaySubject<AddressInfo | string>(1);
    subscription = listen({ host: '127.0.0.1', port: 0, server: { allowHalfOpen: true, noDelay: true }, onListening: (a) => address.next(a) })
      .pipe(handleErrors(), backpressure(limiter), serve(handTo(app)))
      .subscribe();
    app.prependListener('request', (req, res) => void (req.url === '/early' && res.end('early'))); // runs before handTo's own
    const { port } = (await firstValueFrom(address)) as AddressInfo;
    const client = await connect(port);
    let received = '';
    client.on('data', (chunk: Buffer) => (received += chunk.toString()));
    await until(() => limiter.live === 1);
    const waiting = await connect(port); // the only slot is taken: it waits
    waiting.on('error', () => undefined);
    await until(() => limiter.waiting === 1);
    // Two requests at once: the first is answered after 200 ms, the second at once. The first
    // must not be cut off by a reclaim (it says Connection: close, as a client waits, and
    // http drops the pipelined one after it).
    client.write('GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /early HTTP/1.1\r\nHost: x\r\n\r\n');
    let closed = false;
    client.on('close', () => (closed = true));
    await until(() => closed);
    expect(received).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*Connection: close[\s\S]*slow$/);
    expect(limiter.counts.reclaimed).toBe(0);
    client.destroy();
    waiting.destroy();
  });

  it('serves HTTP, and keeps http.Server enforcing headersTimeout on handed sockets', async () => {
    const app = createHttpServer({ headersTimeout: 300, requestTimeout: 300, connectionsCheckingInterval: 50 }, (_, res) => res.end('http ok'));
    const l = await loop(app, { host: '127.0.0.1', port: 0 });
    subscription = l.subscription;
    const { port } = l.address as AddressInfo;
    const [response] = (await once(get({ host: '127.0.0.1', port, agent: false }), 'response')) as [import('node:http').IncomingMessage];
    expect(await body(response)).toBe('http ok');

    // A slowloris client: headers never finish. http answers 408 and closes.
    const slow: Socket = await connect(port);
    slow.write('GET / HTTP/1.1\r\nHost: x\r\n');
    const [reply] = (await once(slow, 'data')) as [Buffer];
    expect(reply.toString()).toMatch(/^HTTP\/1.1 408/);
    slow.destroy();
    app.close();
  });

  it('serves HTTPS', async () => {
    const app = createHttpsServer(tlsOptions, (_, res) => res.end('https ok'));
    const l = await loop(app, { host: '127.0.0.1', port: 0 });
    subscription = l.subscription;
    const { port } = l.address as AddressInfo;
    const [response] = (await once(getHttps({ host: '127.0.0.1', port, ca, agent: false }), 'response')) as [import('node:http').IncomingMessage];
    expect(await body(response)).toBe('https ok');
    app.close();
  });

  it('serves TLS, and a client that never finishes the handshake is closed after handshakeTimeout', async () => {
    const server = createTlsServer({ ...tlsOptions, handshakeTimeout: 300 }, (socket) => socket.end('tls ok'));
    const l = await loop(server, { host: '127.0.0.1', port: 0 });
    subscription = l.subscription;
    const { port } = l.address as AddressInfo;
    const client = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
    const [text] = (await once(client, 'data')) as [Buffer];
    expect(text.toString()).toBe('tls ok');
    client.destroy();

    const silent = await connect(port); // TCP only: never sends a ClientHello
    const started = Date.now();
    await once(silent, 'close');
    expect(Date.now() - started).toBeLessThan(3000);
    server.close();
  });

  it('serves a plain net.Server over a Unix socket', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxjs-listen-unix-'));
    try {
      const server = createNetServer((socket) => socket.end('unix ok'));
      const l = await loop(server, { path: join(dir, 's.sock') });
      subscription = l.subscription;
      const client = await connect(l.address as string);
      const [text] = (await once(client, 'data')) as [Buffer];
      expect(text.toString()).toBe('unix ok');
      client.destroy();
    } finally {
      subscription?.unsubscribe();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a server that listens itself, or something else', async () => {
    const server = createNetServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    expect(() => handTo(server)).toThrow(/handTo: server must not listen itself/);
    server.close();
    expect(() => handTo({} as never)).toThrow(/handTo: server must be a net.Server/);
  });
});
