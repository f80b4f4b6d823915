/* Faults injected with real sockets on loopback, against the whole loop in this process. */
import type { AddressInfo, Socket } from 'node:net';
import { firstValueFrom, ReplaySubject, type Subscription } from 'rxjs';
import { connect, connectOutcome, sleep } from './support/net';
import { backpressure, handleErrors, Limiter, listen, serve } from '../src';

/** listen -> handleErrors -> backpressure -> serve(echo), on 127.0.0.1 port 0. */
async function echoLoop(limiter: Limiter): Promise<{ port: number; subscription: Subscription }> {
  const address = new ReplaySubject<AddressInfo>(1);
  const subscription = listen({ host: '127.0.0.1', port: 0, onListening: (a) => address.next(a as AddressInfo) })
    .pipe(
      handleErrors(),
      backpressure(limiter),
      serve(({ socket }) => {
        socket.on('error', () => undefined); // resets are the peer's business
        socket.pipe(socket);
      }),
    )
    .subscribe();
  return { port: (await firstValueFrom(address)).port, subscription };
}

async function until(condition: () => boolean, ms = 3000): Promise<void> {
  for (const started = Date.now(); !condition() && Date.now() - started < ms; ) await sleep(10);
}

/** Echoes through the loop; retries (bounded) while a resumed listener is still binding. */
async function echo(port: number, text: string): Promise<string> {
  for (let attempt = 0; attempt < 100 && (await connectOutcome(port)) !== 'connected'; attempt++) await sleep(10);
  const socket = await connect(port);
  return new Promise((resolve, reject) => {
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString());
    });
    socket.once('error', reject);
    socket.write(text);
  });
}

describe('faults on real sockets', () => {
  let subscription: Subscription | undefined;
  const clients: Socket[] = [];
  afterEach(() => {
    subscription?.unsubscribe();
    clients.splice(0).forEach((c) => c.destroy());
  });

  it('survives clients that reset before, during and after admission, and leaks no token', async () => {
    const limiter = new Limiter(5);
    const loop = await echoLoop(limiter);
    subscription = loop.subscription;
    await Promise.allSettled(
      Array.from({ length: 30 }, async (_, i) => {
        const socket = await connect(loop.port);
        if (i % 3 === 1) await sleep(5);
        if (i % 3 === 2) socket.write('data in flight');
        socket.resetAndDestroy();
      }),
    );
    await until(() => limiter.live === 0);
    expect(limiter.live).toBe(0);
    expect(await echo(loop.port, 'still here')).toBe('still here');
  });

  it('lets clients that reset or close while they wait leave the queue, and serves the next in order', async () => {
    const limiter = new Limiter(1, { queueSize: 20 });
    const loop = await echoLoop(limiter);
    subscription = loop.subscription;
    const holder = await connect(loop.port);
    clients.push(holder);
    await until(() => limiter.live === 1);
    const leaving = await Promise.all(Array.from({ length: 10 }, () => connect(loop.port)));
    await until(() => limiter.waiting === 10);
    await Promise.all(
      leaving.map(async (socket, i) => {
        socket.on('error', () => undefined);
        if (i % 3 === 0) return void socket.end(); // closes before sending anything
        if (i % 3 === 1) {
          socket.write('data the server never read');
          await sleep(20); // sent, then reset (a close right after a write would send FIN: a half-close, which keeps its place)
        }
        socket.resetAndDestroy();
      }),
    );
    await until(() => limiter.waiting === 0);
    expect([limiter.waiting, limiter.counts.gaveUp, limiter.live]).toEqual([0, 10, 1]);
    const next = echo(loop.port, 'my turn'); // waits behind the holder
    await until(() => limiter.waiting === 1);
    holder.destroy();
    expect(await next).toBe('my turn');
    await until(() => limiter.live === 0);
    expect(limiter.live).toBe(0);
  });

  it('follows a limit lowered to 1 and raised again under load, never touching live connections', async () => {
    const limiter = new Limiter(3, { queueSize: 0 }); // no queue: a full limit shows as a refusal
    const loop = await echoLoop(limiter);
    subscription = loop.subscription;
    for (let i = 0; i < 3; i++) clients.push(await connect(loop.port));
    await until(() => limiter.live === 3);
    expect(await connectOutcome(loop.port)).toBe('ECONNREFUSED'); // full: paused

    limiter.setLimit(1);
    clients.shift()!.destroy();
    clients.shift()!.destroy();
    await until(() => limiter.live === 1);
    expect(await connectOutcome(loop.port)).toBe('ECONNREFUSED'); // 1 live = the new limit
    expect(clients[0]!.destroyed).toBe(false);

    limiter.setLimit(4); // raised: resumes at once
    await until(() => limiter.full === false);
    expect(await echo(loop.port, 'raised')).toBe('raised');
  });
});
