/*
 * Three small costs the design relies on, measured in one process (the first two on loopback):
 * 1. the hidden-EMFILE check on the accept path: reading an accepted socket's descriptor
 *    number and comparing it with the ceiling, per connection;
 * 2. how soon a paused listener accepts again: from the last pause released to the
 *    'listening' event, and to the first connection accepted after it;
 * 3. what a connection's end costs `serve` as the live count grows: one connection ends (in a
 *    scattered order, as clients do) and a new one starts, at 100, 1000, 15 000 and 50 000 live,
 *    handed off (a record in a list), as a stream (dealt among 256 mergeMaps), and through a single
 *    `mergeMap`.
 *
 *   npm run bench:micro
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { firstValueFrom, fromEvent, ignoreElements, mergeMap, ReplaySubject, Subject, filter, take, type OperatorFunction } from 'rxjs';
import { socketFd } from '../src/source/fileLimit';
import { listen } from '../src/source/listen';
import { serve } from '../src/operators/serve';
import type { Accepted, AcceptResult, ListenerControl } from '../src/errors/result';
import { parseFlags } from './support/flags';
import { machine, median } from './support/run';

parseFlags('micro', {}); // none: anything given is refused

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

/** µs per connection that ends plus one that starts, with `live` connections held. */
function churn(live: number, operator: OperatorFunction<Accepted, never>): number {
  const connections = new Subject<Accepted>();
  const sockets: EventEmitter[] = [];
  const listener = {} as ListenerControl;
  const start = (): void => {
    // A stand-in socket: the handler returns nothing, so its 'close' ends the connection.
    const socket = Object.assign(new EventEmitter(), { closed: false, destroy: () => socket });
    sockets.push(socket);
    connections.next({ type: 'connection', socket: socket as never, listener });
  };
  const subscription = connections.pipe(operator).subscribe();
  for (let i = 0; i < live; i++) start();
  const rounds = 20_000;
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) {
    const at = (i * 7919) % sockets.length; // scattered, not first in first out
    const socket = sockets[at]!;
    sockets[at] = sockets[sockets.length - 1]!;
    sockets.pop();
    socket.emit('close');
    start();
  }
  const us = ((performance.now() - t0) * 1000) / rounds;
  subscription.unsubscribe();
  return us;
}

function serveChurn(): void {
  // Each connection lives until its socket's 'close': handed off (the handler returns nothing),
  // as a stream the handler returns (serve's mergeMaps), and through one mergeMap (the shape before).
  const untilClose = ({ socket }: Accepted) => fromEvent(socket, 'close').pipe(take(1), ignoreElements());
  const shapes: [string, () => OperatorFunction<Accepted, never>][] = [
    ['serve, handed off', () => serve(() => undefined)],
    ['serve, a stream', () => serve(untilClose)],
    ['a single mergeMap', () => mergeMap(untilClose)],
  ];
  for (const live of [100, 1000, 15_000, 50_000]) {
    const figures = shapes.map(([name, make]) => {
      const runs = [0, 1, 2].map(() => churn(live, make())); // the first run warms up
      return `${name} ${median(runs.slice(1)).toFixed(2)} µs`;
    });
    console.log(`a connection ends and one starts, ${live} live: ${figures.join(', ')}`);
  }
}

async function main(): Promise<void> {
  console.log(`# micro: ${machine()}`);
  await fdCheck();
  await resumeLatency();
  serveChurn();
}

void main();
