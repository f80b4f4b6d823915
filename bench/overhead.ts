/*
 * What the library costs when there is no flood: the same HTTP handler served by a plain
 * `http.createServer` (a) and through listen -> handleErrors -> backpressure -> serve (b).
 *
 *   npm run bench:overhead [-- --pairs N --seconds N]
 *
 * 1. requests/s with wrk -t1 -c32, new connection per request and keep-alive, in alternating
 *    pairs (a, b, a, b, ...): the ratio b/a per pair, its median, min and max; and the same
 *    for server CPU time per request;
 * 2. heap per live connection with 10 000 idle connections, b minus a;
 * 3. no leak: heap after GC once 100 000 connections have come and gone through b.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { parseFlags } from './support/flags';
import { cpuSeconds, machine, median, requireWrk, sleep, startServer, stopServer, wrk, type Server } from './support/run';

const options = parseFlags('overhead', {
  pairs: { kind: 'integer', min: 1, default: 10 },
  seconds: { kind: 'integer', min: 1, default: 3 },
  only: { kind: 'string', choices: ['throughput', 'memory', 'leak'] },
  // What (a) is: Node's own server (`plain`), or Node's own hand-off to a never-listening
  // http.Server without the library (`handoff`), which isolates the library's share.
  baseline: { kind: 'string', choices: ['plain', 'handoff'], default: 'plain' },
}).values;
const { pairs, baseline, seconds } = options;
const servers = {
  plain: 'build/bench/servers/plain.js',
  pipeline: 'build/bench/servers/pipeline.js',
  handoff: 'build/bench/servers/handoff.js',
} as const;

async function heap(server: Server): Promise<number> {
  const before = server.stdout.length;
  server.child.kill('SIGUSR2');
  for (let i = 0; i < 200 && server.stdout.length === before; i++) await sleep(25);
  return Number(/heap (\d+)/.exec(server.stdout.at(-1)!)![1]);
}

/*
 * Both servers run side by side for the whole measurement (JIT warm, same machine state),
 * pinned to core 0, and wrk (one thread) to core 1, so the load generator does not compete
 * with the server it measures; wrk alternates between them: a, b, a, b, ... Each pair gives a
 * requests/s ratio and a ratio of server CPU time per request (from /proc).
 */
async function throughput(): Promise<void> {
  const plain = await startServer(servers[baseline], ['--port', '0'], { cpu: 0 });
  const pipeline = await startServer(servers.pipeline, ['--port', '0'], { cpu: 0 });
  console.log(`a = ${baseline}, b = pipeline`);
  try {
    for (const mode of ['close', 'keep-alive'] as const) {
      const header = mode === 'close' ? ['-H', 'Connection: close'] : [];
      const run = async (server: Server, duration: number) => {
        const cpu0 = cpuSeconds(server.pid);
        const { rps, requests } = await wrk(['-t1', '-c32', `-d${duration}s`, ...header, `http://127.0.0.1:${server.port}/`], 1);
        return { rps, cpuPerRequest: (cpuSeconds(server.pid) - cpu0) / requests };
      };
      await run(plain, 1); // warm-up
      await run(pipeline, 1);
      const rpsRatios: number[] = [];
      const cpuRatios: number[] = [];
      const rows: string[] = [];
      for (let pair = 1; pair <= pairs; pair++) {
        const a = await run(plain, seconds);
        const b = await run(pipeline, seconds);
        rpsRatios.push(b.rps / a.rps);
        cpuRatios.push(a.cpuPerRequest / b.cpuPerRequest);
        rows.push(
          `  pair ${pair}: plain ${a.rps.toFixed(0)} req/s ${(a.cpuPerRequest * 1e6).toFixed(1)} µs CPU/req, ` +
            `pipeline ${b.rps.toFixed(0)} req/s ${(b.cpuPerRequest * 1e6).toFixed(1)} µs CPU/req: ratio ${rpsRatios.at(-1)!.toFixed(3)}, CPU ratio ${cpuRatios.at(-1)!.toFixed(3)}`,
        );
      }
      const range = (r: number[]) => `${median(r).toFixed(3)} (min ${Math.min(...r).toFixed(3)}, max ${Math.max(...r).toFixed(3)})`;
      console.log(`${mode}: requests/s ratio b/a median ${range(rpsRatios)}; CPU-per-request ratio a/b median ${range(cpuRatios)}`);
      rows.forEach((r) => console.log(r));
    }
  } finally {
    await stopServer(plain);
    await stopServer(pipeline);
  }
}

function open(port: number, count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  const batch = async (n: number) =>
    Promise.all(
      Array.from({ length: n }, async () => {
        const socket = connect(port, '127.0.0.1');
        await once(socket, 'connect');
        sockets.push(socket);
      }),
    );
  return (async () => {
    for (let done = 0; done < count; done += 250) await batch(Math.min(250, count - done));
    return sockets;
  })();
}

async function memoryPerConnection(): Promise<void> {
  const IDLE = 10_000;
  const perConnection: Record<string, number> = {};
  for (const kind of ['plain', 'pipeline'] as const) {
    const server = await startServer(servers[kind], ['--port', '0'], { nodeArgs: ['--expose-gc'] });
    await open(server.port, 200).then((s) => s.forEach((x) => x.destroy())); // warm up the code paths
    await sleep(500);
    const base = await heap(server);
    const sockets = await open(server.port, IDLE);
    await sleep(1000);
    const loaded = await heap(server);
    perConnection[kind] = (loaded - base) / IDLE;
    console.log(`  ${kind}: heap ${(base / 1048576).toFixed(1)} MiB idle, ${(loaded / 1048576).toFixed(1)} MiB with ${IDLE} connections: ${perConnection[kind]!.toFixed(0)} B each`);
    sockets.forEach((s) => s.destroy());
    await stopServer(server);
  }
  console.log(`memory per live connection held by the library: ${(perConnection.pipeline! - perConnection.plain!).toFixed(0)} B`);
}

async function churn(port: number, total: number, concurrency = 64): Promise<void> {
  let started = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      socket.on('data', () => undefined);
      socket.on('error', () => undefined);
      socket.on('close', () => resolve());
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < total) {
        started++;
        await one();
      }
    }),
  );
}

async function leak(): Promise<void> {
  const server = await startServer(servers.pipeline, ['--port', '0'], { nodeArgs: ['--expose-gc'] });
  await churn(server.port, 10_000);
  const base = await heap(server);
  const t0 = performance.now();
  await churn(server.port, 100_000);
  const after = await heap(server);
  console.log(
    `leak: heap after GC ${(base / 1048576).toFixed(2)} MiB after 10 000 warm-up connections, ${(after / 1048576).toFixed(2)} MiB after 100 000 more ` +
      `(${((performance.now() - t0) / 1000).toFixed(1)} s): growth ${((after - base) / 1048576).toFixed(2)} MiB`,
  );
  await stopServer(server);
}

async function main(): Promise<void> {
  requireWrk();
  console.log(`# overhead: ${machine()}`);
  if (!options.only || options.only === 'throughput') await throughput();
  if (!options.only || options.only === 'memory') {
    console.log('memory with 10 000 idle connections:');
    await memoryPerConnection();
  }
  if (!options.only || options.only === 'leak') await leak();
}

void main();
