/*
 * Overload by a CPU-bound handler, as the client sees it. Every response burns --busy-ms of
 * the server's CPU, so a server pinned to one core can answer about 1000/busyMs requests a
 * second, and 200 closed-loop clients ask for more. Each client, over and over: a fresh TCP
 * connect() to 127.0.0.1, one `GET / HTTP/1.1` with `Connection: close`, read to the end (raw
 * net.connect: no pooling, no retries); timed from connect() to the last byte (or the error),
 * given up after DEADLINE_MS. When an attempt ends, served or not, the client starts the next.
 * Plain http.createServer and the demo, one after the other in one run; the server on core 0,
 * the clients in a child process on core 1 (this script again, with --client).
 *
 *   npm run bench:overload [-- --clients N --seconds N --busy-ms N --demo-flags "--limit 20 --queue-size 0"]
 *     [--alloc-kb N --hold-ms N --node-flags "--max-old-space-size=96"]
 *
 * --demo-flags: added to the demo's `--busy-ms N --limit 1000` (a later --limit wins).
 * --alloc-kb, --hold-ms: to both servers, so each request also allocates N KiB of heap and holds
 * it until its response, sent N ms late: a handler that allocates, to overload memory.
 * --node-flags: for every server's node process, e.g. a V8 heap limit, so that the servers meet
 * it at the same load. A server that exits during its run (e.g. killed by SIGABRT with
 * "JavaScript heap out of memory" on stderr) says so in the `server died` column. The server's
 * resident memory (VmRSS) is read as the load begins, a fifth of the way in and as it ends: a
 * process that grows under the load shows it between the last two.
 * --fastify: also Fastify 5 with @fastify/under-pressure (bench/servers/fastify-busy.ts), last;
 * --fastify-flags: added to its `--busy-ms N`, e.g. "--max-elu 0.9" or "--max-lag-ms 100".
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { connectionError, httpStatus } from './support/client';
import { parseFlags, words } from './support/flags';
import { cpuSecondsReader, lastJsonLine, machine, median, percentile, round, residentMiB, runPinned, startServer, stopServer, tally } from './support/run';

const DEADLINE_MS = 5000;
const REQUEST = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';

const flags = parseFlags('overload', {
  clients: { kind: 'integer', min: 1, default: 200 },
  seconds: { kind: 'integer', min: 1, default: 10 },
  'busy-ms': { kind: 'integer', min: 0, default: 5 },
  // Passed to the servers only when given, so that a run without them starts them as before.
  'alloc-kb': { kind: 'integer', min: 0 },
  'hold-ms': { kind: 'integer', min: 0 },
  'node-flags': { kind: 'string' },
  'demo-flags': { kind: 'string' },
  'demo-only': { kind: 'boolean' },
  fastify: { kind: 'boolean' },
  'fastify-flags': { kind: 'string' },
  // The child's own (--client): the server to load and its PID.
  client: { kind: 'boolean' },
  port: { kind: 'integer', min: 1 },
  'server-pid': { kind: 'integer', min: 1 },
});
const options = flags.values;
const { clients, seconds } = options;

interface Attempt {
  outcome: string; // 'served' (200), '503', 'other status', 'refused', 'reset', 'timed out', or another error code
  ms: number; // from connect() to the last byte, or to the error
}

function statusOutcome(head: string): string {
  if (head === '') return 'reset'; // closed without a response
  const status = httpStatus(head);
  return status === '200' ? 'served' : status === '503' ? '503' : 'other status';
}

function attempt(port: number): Promise<Attempt> {
  const start = performance.now();
  return new Promise((resolve) => {
    let head = ''; // enough of the response to read its status
    const socket = connect({ host: '127.0.0.1', port });
    const end = (outcome: string): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ outcome, ms: performance.now() - start }); // the first call counts
    };
    const timer = setTimeout(() => end('timed out'), DEADLINE_MS);
    socket.once('connect', () => socket.write(REQUEST));
    socket.on('data', (chunk: Buffer) => {
      if (head.length < 16) head += chunk.toString('latin1');
    });
    socket.once('end', () => end(statusOutcome(head)));
    socket.once('error', (error: NodeJS.ErrnoException) => end(connectionError(error.code)));
    socket.once('close', () => end(statusOutcome(head)));
  });
}

/** Sockets in TIME_WAIT, system-wide (what `ss -s` calls timewait). */
const timeWait = (): number => Number(/\btw (\d+)/.exec(readFileSync('/proc/net/sockstat', 'utf8'))?.[1] ?? NaN);

const ms = (value: number): number => round(value);

/** The figures of one run: `wall` and the CPU times in seconds. */
function summarize(results: Attempt[], wall: number, cpu: { server: number; client: number }, maxTimeWait: number) {
  const served = results.filter((r) => r.outcome === 'served').map((r) => r.ms);
  const refused = results.filter((r) => r.outcome === 'refused').map((r) => r.ms);
  return {
    servedPerSecond: Math.round(served.length / wall),
    attempts: results.length,
    outcomes: tally(results.map((r) => r.outcome)),
    servedMs: { p50: ms(median(served)), p90: ms(percentile(served, 90)), p99: ms(percentile(served, 99)), max: ms(percentile(served, 100)) },
    refusedMs: { p50: ms(median(refused)), p99: ms(percentile(refused, 99)) },
    slowerThan1s: results.filter((r) => r.ms > 1000).length,
    cpuShareOfACore: { server: Number((cpu.server / wall).toFixed(2)), client: Number((cpu.client / wall).toFixed(2)) },
    wallSeconds: Number(wall.toFixed(2)),
    timeWait: { max: maxTimeWait, atEnd: timeWait() },
  };
}
type Figures = ReturnType<typeof summarize> & { serverRssMiB: Record<'idle' | 'early' | 'end' | 'max', number | null> };

/** The child: `clients` closed loops for `seconds`; every attempt started runs to its end. Prints one JSON line. */
async function runClients(port: number, serverPid: number): Promise<void> {
  const results: Attempt[] = [];
  let maxTimeWait = timeWait();
  // A server that dies during the run leaves no /proc entry to read at the end: its CPU time is
  // then the last sample taken (up to 500 ms short), over the whole run's wall time.
  const serverCpuNow = cpuSecondsReader(serverPid);
  const [start, server0, client0] = [performance.now(), serverCpuNow(), process.cpuUsage()];
  // The server's resident memory: as the load begins, a fifth of the way in (warmed up), and as it
  // ends; a process that grows under the load shows it between the last two.
  const rss = { idle: residentMiB(serverPid), early: NaN, end: NaN, max: NaN };
  const sampler = setInterval(() => {
    maxTimeWait = Math.max(maxTimeWait, timeWait());
    serverCpuNow();
    const now = residentMiB(serverPid);
    if (Number.isNaN(rss.early) && performance.now() - start >= seconds * 200) rss.early = now;
    rss.max = Number.isNaN(rss.max) ? now : Math.max(rss.max, now);
  }, 500);
  const stopAt = start + seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < stopAt) results.push(await attempt(port));
  };
  await Promise.all(Array.from({ length: clients }, loop));
  const wall = (performance.now() - start) / 1000;
  const { user, system } = process.cpuUsage(client0);
  const cpu = { server: serverCpuNow() - server0, client: (user + system) / 1e6 };
  clearInterval(sampler);
  rss.end = residentMiB(serverPid);
  const serverRssMiB = Object.fromEntries(Object.entries(rss).map(([k, v]) => [k, Number.isNaN(v) ? null : round(v)]));
  console.log(JSON.stringify({ ...summarize(results, wall, cpu, Math.max(maxTimeWait, timeWait())), serverRssMiB }));
}

/** Runs this script with --client on core 1 against `port`, and returns what it printed. */
async function measure(port: number, serverPid: number): Promise<Figures> {
  const args = [__filename, '--client', '--port', String(port), '--server-pid', String(serverPid), '--clients', String(clients), '--seconds', String(seconds)];
  const { code, stdout, stderr } = await runPinned(1, [process.execPath, ...args]);
  if (code !== 0) throw new Error(`the client exited with ${code}: ${stderr}`);
  return lastJsonLine<Figures>(stdout); // NaN figures (none of that outcome) arrive as null
}

/** How the server's process ended, if it did: its exit code or signal, and whether V8 ran out of heap. */
interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  afterSeconds: number; // from the start of the clients' run
  heapOutOfMemory: boolean; // V8's "FATAL ERROR: ... JavaScript heap out of memory" on stderr
}

function describeExit(exit: ServerExit | undefined): string {
  if (exit === undefined) return 'no';
  const how = exit.signal !== null ? `signal ${exit.signal}` : `exit code ${exit.code}`;
  return `yes (${how}${exit.heapOutOfMemory ? ', heap out of memory' : ''}, after ${exit.afterSeconds} s)`;
}

async function main(): Promise<void> {
  const demoFlags = words(options['demo-flags']);
  const nodeFlags = words(options['node-flags']);
  const busy = ['--busy-ms', String(options['busy-ms'])];
  const { 'alloc-kb': allocKb, 'hold-ms': holdMs } = options;
  // Only when asked for, so that a run without them starts the servers as before.
  const work = [...busy, ...(allocKb !== undefined ? ['--alloc-kb', String(allocKb)] : []), ...(holdMs !== undefined ? ['--hold-ms', String(holdMs)] : [])];
  const servers = [
    { server: `plain http.createServer ${work.join(' ')}`, script: 'build/bench/servers/plain-busy.js', flags: work },
    { server: `demo ${[...work, '--limit', '1000', ...demoFlags].join(' ')}`, script: 'build/demo/server.js', flags: [...work, '--limit', '1000', ...demoFlags] },
  ];
  if (options.fastify) {
    const fastifyFlags = [...busy, ...words(options['fastify-flags'])];
    servers.push({ server: `fastify + under-pressure ${fastifyFlags.join(' ')}`, script: 'build/bench/servers/fastify-busy.js', flags: fastifyFlags });
  }
  const nodeNote = nodeFlags.length > 0 ? `; servers run as node ${nodeFlags.join(' ')}` : '';
  console.log(`# overload: ${clients} clients, ${seconds} s, deadline ${DEADLINE_MS} ms${nodeNote}; ${machine()}`);
  const rows: string[] = [];
  for (const { server, script, flags } of servers.slice(options['demo-only'] ? 1 : 0)) {
    const running = await startServer(script, ['--port', '0', ...flags], { cpu: 0, nodeArgs: nodeFlags });
    const start = performance.now();
    let exit: ServerExit | undefined;
    running.child.once('exit', (code: number | null, signal: NodeJS.Signals | null) => {
      const heapOutOfMemory = running.stderr.some((line) => line.includes('heap out of memory')); // read again below: stderr may trail the exit
      exit = { code, signal, afterSeconds: Number(((performance.now() - start) / 1000).toFixed(2)), heapOutOfMemory };
    });
    try {
      const f = await measure(running.port, running.pid);
      if (exit) exit.heapOutOfMemory = running.stderr.some((line) => line.includes('heap out of memory'));
      const overloadLines = running.stderr.filter((line) => line.includes('overload:'));
      console.log(JSON.stringify({ server, ...f, serverExit: exit ?? null, overloadLogLines: overloadLines.length, firstOverloadLine: overloadLines[0]?.slice(0, 140) }));
      const { p50, p90, p99, max } = f.servedMs;
      const failed = Object.entries(f.outcomes).filter(([o]) => o !== 'served').map(([o, n]) => `${o} ${n}`).join(', ') || 'none';
      const { idle, early, end } = f.serverRssMiB;
      rows.push(`| ${server} | ${f.servedPerSecond} | ${p50} / ${p90} / ${p99} / ${max} | ${f.refusedMs.p50 ?? '-'} / ${f.refusedMs.p99 ?? '-'} | ${f.slowerThan1s} | ${failed} | ${f.cpuShareOfACore.server} / ${f.cpuShareOfACore.client} | ${idle ?? '-'} / ${early ?? '-'} / ${end ?? '-'} | ${describeExit(exit)} |`);
    } finally {
      await stopServer(running);
    }
  }
  console.log('\n| server | served/s | served ms p50 / p90 / p99 / max | refused ms p50 / p99 | attempts > 1 s | not served | CPU server / client (cores) | server RSS MiB idle / at a fifth / end | server died |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
}

if (options.client) void runClients(flags.need('port'), flags.need('server-pid'));
else void main();
