/*
 * Every protocol handTo knows gets what HTTP/1 gets: its idle connections retired for clients
 * waiting at the limit, and a graceful shutdown. Real clients on loopback, every wait bounded.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { Agent } from 'node:https';
import { request as httpsRequest } from 'node:https';
import { connect as http2Connect, createServer as createHttp2Server, type ClientHttp2Session } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { firstValueFrom, ReplaySubject, type Subscription } from 'rxjs';
import { sleep } from '../support/net';
import { backpressure, handleErrors, handTo, Limiter, listen, serve } from '../../src';
import { Metrics } from '../../src/metrics';

const tlsOptions = {
  key: readFileSync(join(__dirname, '..', '..', 'demo', 'certs', 'localhost-key.pem')),
  cert: readFileSync(join(__dirname, '..', '..', 'demo', 'certs', 'localhost-cert.pem')),
};

/** Rejects after `ms` unless `promise` settles first. */
function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** The loop handing connections to `server` under `limiter`; resolves with its port. */
async function loop(server: Parameters<typeof handTo>[0], limiter: Limiter, signal?: AbortSignal) {
  const address = new ReplaySubject<AddressInfo>(1);
  const done = new ReplaySubject<number>(1);
  const subscription = listen({ host: '127.0.0.1', port: 0, server: { allowHalfOpen: true, noDelay: true }, onListening: (a) => address.next(a as AddressInfo) })
    .pipe(handleErrors(), backpressure(limiter), serve(handTo(server), { signal, graceMs: 10_000 }))
    .subscribe({ complete: () => done.next(Date.now()) });
  return { port: (await firstValueFrom(address)).port, subscription, done: firstValueFrom(done) };
}

describe('protocols beyond HTTP/1', () => {
  let subscription: Subscription | undefined;
  afterEach(() => subscription?.unsubscribe());

  it('HTTPS: five idle keep-alive clients at limit 5 make room for a sixth within 250 ms, the idle one closed cleanly', async () => {
    const app = createHttpsServer(tlsOptions, (_, res) => res.end('ok'));
    app.keepAliveTimeout = 72_000;
    const limiter = new Limiter(5);
    const l = await loop(app, limiter);
    subscription = l.subscription;
    const ask = (agent: Agent) =>
      bounded(
        new Promise<{ status: number; socket: import('node:net').Socket }>((resolve, reject) => {
          let socket: import('node:net').Socket;
          const req = httpsRequest({ host: '127.0.0.1', port: l.port, agent, rejectUnauthorized: false }, (res: IncomingMessage) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode!, socket }));
          });
          req.on('socket', (s) => (socket = s));
          req.on('error', reject).end();
        }),
        6000,
        'GET /',
      );
    const agents = Array.from({ length: 6 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
    try {
      const first = await Promise.all(agents.slice(0, 5).map(ask));
      const resets: string[] = [];
      for (const { socket } of first) socket.on('error', (error: NodeJS.ErrnoException) => resets.push(error.code ?? String(error)));
      const ended = first.map(({ socket }) => once(socket, 'close'));
      const before = Date.now();
      const sixth = await ask(agents[5]!);
      expect([sixth.status, Date.now() - before]).toEqual([200, expect.any(Number)]);
      expect(Date.now() - before).toBeLessThan(250);
      await bounded(Promise.race(ended), 1000, 'an idle connection closed');
      expect(resets).toEqual([]);
      expect(limiter.counts.reclaimed).toBe(1);
    } finally {
      agents.forEach((agent) => agent.destroy());
    }
  });

  describe('HTTP/2', () => {
    /** A session and its GOAWAY, if one comes. */
    function session(port: number): { client: ClientHttp2Session; goaway: Promise<boolean>; errors: unknown[] } {
      const client = http2Connect(`http://127.0.0.1:${port}`);
      const errors: unknown[] = [];
      client.on('error', (error) => errors.push(error));
      const goaway = new Promise<boolean>((resolve) => {
        client.once('goaway', () => resolve(true));
        client.once('close', () => resolve(false));
      });
      return { client, goaway, errors };
    }

    function get(client: ClientHttp2Session, path = '/'): Promise<{ status: number; body: string }> {
      return bounded(
        new Promise((resolve, reject) => {
          const stream = client.request({ ':path': path });
          let status = 0;
          let body = '';
          stream.on('response', (headers) => (status = Number(headers[':status'])));
          stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
          stream.on('end', () => resolve({ status, body }));
          stream.on('error', reject);
          stream.end();
        }),
        3000,
        `GET ${path}`,
      );
    }

    const app = () => createHttp2Server((req, res) => (req.url === '/slow' ? setTimeout(() => res.end('slow'), 400) : res.end('ok')));

    it('shutdown: GOAWAY to an idle session and to one with a stream in flight, which is answered; done within 1.5 s, not the grace', async () => {
      const shutdown = new AbortController();
      const l = await loop(app(), new Limiter(10), shutdown.signal);
      subscription = l.subscription;
      const [idle, busy] = [session(l.port), session(l.port)];
      try {
        expect((await get(idle.client)).status).toBe(200);
        const slow = get(busy.client, '/slow');
        await sleep(50); // the slow stream is in flight
        const aborted = Date.now();
        shutdown.abort();
        expect(await slow).toEqual({ status: 200, body: 'slow' });
        expect(await bounded(Promise.all([idle.goaway, busy.goaway]), 1500, 'GOAWAY')).toEqual([true, true]);
        expect((await bounded(l.done, 1500, 'serve completes')) - aborted).toBeLessThan(1500);
        expect([...idle.errors, ...busy.errors]).toEqual([]);
      } finally {
        idle.client.destroy();
        busy.client.destroy();
      }
    });

    it('reclaims an idle session with GOAWAY for a client waiting at the limit', async () => {
      const limiter = new Limiter(1);
      const metrics = new Metrics(limiter);
      const l = await loop(app(), limiter);
      subscription = l.subscription;
      const [first, second] = [session(l.port), undefined as ReturnType<typeof session> | undefined];
      try {
        expect((await get(first.client)).status).toBe(200);
        await sleep(20); // the stream's close reaches the server: the session is idle
        expect(metrics.snapshot().idleByProtocol).toEqual({ h2: 1 });
        const next = session(l.port);
        Object.assign(second ?? {}, next);
        expect(await get(next.client)).toEqual({ status: 200, body: 'ok' });
        expect(await bounded(first.goaway, 1000, 'GOAWAY')).toBe(true);
        expect([limiter.counts.reclaimed, first.errors]).toEqual([1, []]);
        next.client.destroy();
      } finally {
        first.client.destroy();
      }
    });
  });
});
