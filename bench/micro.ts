/*
 * Two small costs the design relies on, measured in one process on loopback:
 * 1. the hidden-EMFILE check on the accept path: reading an accepted socket's descriptor
 *    number and comparing it with the ceiling, per connection;
 * 2. how soon a paused listener accepts again: from the last pause released to the
 *    'listening' event, and to the first connection accepted after it.
 *
 *   npm run bench:micro
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { firstValueFrom, ReplaySubject, filter } from 'rxjs';
import { socketFd } from '../src/fileLimit';
import { listen } from '../src/listen';
import type { Accepted, AcceptResult } from '../src/result';
import { machine, median } from './support/run';

async function fdCheck(): Promise<void> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
  const [socket] = await accepted;
  const ceiling = 1e9;
  const N = 10_000_000;
  let hits = 0;
  for (let round = 0; round < 2; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) if (socketFd(socket) >= ceiling) hits++;
    const ns = Number(process.hrtime.bigint() - t0) / N;
    if (round === 1) console.log(`descriptor check on the accept path: ${ns.toFixed(1)} ns per connection (${hits} hits)`);
  }
  client.destroy();
  socket.destroy();
  server.close();
}

async function resumeLatency(): Promise<void> {
  const results = new ReplaySubject<AcceptResult>();
  const address = new ReplaySubject<AddressInfo>(1);
  const subscription = listen({ host: '127.0.0.1', port: 0, onListening: (a) => address.next(a as AddressInfo) }).subscribe(results);
  const { port } = await firstValueFrom(address);
  const first = connect(port, '127.0.0.1');
  const { listener } = (await firstValueFrom(results.pipe(filter((r): r is Accepted => r.type === 'connection')))) as Accepted;
  const toListening: number[] = [];
  const toAccepted: number[] = [];
  for (let i = 0; i < 200; i++) {
    const resume = listener.pause('bench');
    const t0 = performance.now();
    const next = firstValueFrom(results.pipe(filter((r): r is Accepted => r.type === 'connection' && r.socket.remotePort !== first.localPort)));
    resume();
    // The first connect that succeeds marks the listener bound again (refused until then).
    let client: Socket | undefined;
    for (;;) {
      const outcome = await new Promise<string>((r) => {
        client = connect(port, '127.0.0.1', () => r('ok'));
        client.on('error', (e: NodeJS.ErrnoException) => r(e.code ?? 'error'));
      });
      if (outcome === 'ok') break;
    }
    toListening.push(performance.now() - t0);
    const accepted = await next;
    toAccepted.push(performance.now() - t0);
    accepted.socket.destroy();
    client!.destroy();
  }
  console.log(
    `resume: a client connects ${median(toListening).toFixed(3)} ms after the pause is released (median of 200; max ${Math.max(...toListening).toFixed(3)} ms), ` +
      `and is accepted ${median(toAccepted).toFixed(3)} ms after (max ${Math.max(...toAccepted).toFixed(3)} ms)`,
  );
  first.destroy();
  subscription.unsubscribe();
}

async function main(): Promise<void> {
  console.log(`# micro: ${machine()}`);
  await fdCheck();
  await resumeLatency();
}

void main();
