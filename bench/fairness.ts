/*
 * Fairness under a flood, as the clients see it: one client floods, another asks now and then.
 * Is the other one served, and how long does it wait?
 *
 * The flood: `wrk -t 1 -c 100 -d Ns -H "Connection: close"` from 127.0.0.1 (wrk cannot bind
 * another address): 100 connections, each a fresh connect() per request, reconnecting after
 * every response or close. The probe: a child process (this script again, with --client) bound
 * to 127.0.0.3 that starts one attempt every 20 ms, open loop (whether or not the previous one
 * ended; attempts may overlap): a raw net.connect, `GET / HTTP/1.1` with `Connection: close`,
 * read to the end; timed from connect() to the last byte, given up (destroyed) after 5 s. It
 * starts 1 s after wrk (warm-up), starts none in wrk's last second, and waits for the attempts
 * in flight. Every server burns --busy-ms of CPU per request, runs on core 0 and is started
 * fresh; wrk and the probe run on core 1. Servers, one after the other in one run:
 *   plain Node   bench/servers/plain-busy.ts: http.createServer, Node's own accept loop
 *   demo         build/demo/server.js --busy-ms N, then with each variant's flags added:
 *                --per-peer-rate 100, --max-lag-ms 100 (or those of --demo-flags)
 *
 *   npm run bench:fairness [-- --seconds N] [--busy-ms N] [--runs N] [--only-demo] [--one-at-a-time]
 *     [--demo-flags "--per-peer-rate 100;--max-lag-ms 100 --limit 50"]
 *
 * --seconds: wrk's duration, 3 to 120 (default 10); the probe runs for 2 s less.
 * --busy-ms: CPU per request, every server (default 2). --runs: the whole table N times (default 1).
 * --demo-flags: the demo variants, separated by `;`, each flags added to the demo's
 * `--port 0 --busy-ms N` (split on white space, no quoting); an empty variant is the demo alone.
 * Replaces the default three demo rows (alone, --per-peer-rate 100, --max-lag-ms 100).
 * --only-demo: no plain Node row.
 * --one-at-a-time: the probe asks as a person or a health checker does, the next attempt 20 ms
 * after the previous one ended (a client seen rarely), instead of one every 20 ms.
 *
 * Columns: the probe's outcomes (served: status 200; other: another status, by code, or another
 * error code; refused: ECONNREFUSED; reset: ECONNRESET/EPIPE or closed without a full response;
 * timeout: no end within 5 s), its served latency, and its refused + reset + timeout share of
 * all attempts; then wrk's Requests/sec, the flood's served responses per second (wrk's
 * responses minus its non-2xx/3xx ones, over its duration) and wrk's socket errors.
 */
import { connect } from 'node:net';
import { connectionError, httpStatus } from './support/client';
import { exitUsage, parseFlags, words } from './support/flags';
import { lastJsonLine, machine, percentile, requireCommand, requireWrk, round, runPinned, startServer, stopServer, tally, type Server } from './support/run';

const PROBE_ADDRESS = '127.0.0.3';
const PROBE_EVERY_MS = 20;
const DEADLINE_MS = 5000;
const WARM_UP_MS = 1000;
const FLOOD_CONNECTIONS = 100;
const REQUEST = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
const DEFAULT_DEMO_VARIANTS = ['', '--per-peer-rate 100', '--max-lag-ms 100'];

// ---------------------------------------------------------------------------------------------
// Options

interface Options {
  seconds: number;
  busyMs: number;
  runs: number;
  onlyDemo: boolean;
  demoVariants: string[][];
  /** The probe child's own: where to connect, and when to start and stop starting attempts (epoch ms). */
  client: { port: number; startAt: number; stopAt: number; oneAtATime: boolean } | undefined;
  oneAtATime: boolean;
}

function parseOptions(): Options {
  const flags = parseFlags('fairness', {
    seconds: { kind: 'integer', min: 3, max: 120, default: 10 },
    'busy-ms': { kind: 'integer', min: 0, max: 1000, default: 2 },
    runs: { kind: 'integer', min: 1, max: 20, default: 1 },
    'only-demo': { kind: 'boolean' },
    'demo-flags': { kind: 'string' },
    'one-at-a-time': { kind: 'boolean' },
    // The probe child's own (--client).
    client: { kind: 'boolean' },
    port: { kind: 'integer', min: 1, max: 65535 },
    'start-at': { kind: 'integer', min: 1, max: Number.MAX_SAFE_INTEGER },
    'stop-at': { kind: 'integer', min: 1, max: Number.MAX_SAFE_INTEGER },
  });
  const values = flags.values;
  const variants = values['demo-flags']?.split(';') ?? DEFAULT_DEMO_VARIANTS;
  const demoVariants = variants.map(words);
  for (const [i, variant] of demoVariants.entries()) {
    if (variant.length > 0 && !variant[0]!.startsWith('--')) flags.fail(`--demo-flags: variant ${i + 1} must start with a flag (--name), got ${JSON.stringify(variants[i])}`);
  }
  const oneAtATime = values['one-at-a-time'];
  const client = values.client ? { port: flags.need('port'), startAt: flags.need('start-at'), stopAt: flags.need('stop-at'), oneAtATime } : undefined;
  return { seconds: values.seconds, busyMs: values['busy-ms'], runs: values.runs, onlyDemo: values['only-demo'], oneAtATime, demoVariants, client };
}

const options = parseOptions();

// ---------------------------------------------------------------------------------------------
// The probe (the child process)

type Outcome = 'served' | 'refused' | 'reset' | 'timeout' | string; // else: `status NNN` or an error code

interface Attempt {
  outcome: Outcome;
  ms: number;
  at: number; // when it began, ms after the probe's start
}

/** Whether `raw` (latin1) holds a whole HTTP response to a `Connection: close` request; its status if it has a head. */
function parseResponse(raw: string): { status: string | undefined; complete: boolean } {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) return { status: undefined, complete: false };
  const head = raw.slice(0, headEnd);
  const status = httpStatus(head);
  const body = raw.slice(headEnd + 4);
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
  if (length !== undefined) return { status, complete: body.length >= Number(length) };
  if (/\r\ntransfer-encoding:[^\r]*chunked/i.test(head)) return { status, complete: /(^|\r\n)0\r\n(.*\r\n)*\r\n$/.test(body) };
  return { status, complete: true }; // delimited by the close, which has come
}

function probeOnce(port: number, startAt: number): Promise<Attempt> {
  const start = performance.now();
  const at = Date.now() - startAt;
  return new Promise((resolve) => {
    let raw = '';
    let done = false;
    const socket = connect({ host: '127.0.0.1', port, localAddress: PROBE_ADDRESS });
    const end = (outcome: Outcome): void => {
      if (done) return; // the first call counts
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ outcome, ms: performance.now() - start, at });
    };
    const timer = setTimeout(() => end('timeout'), DEADLINE_MS);
    socket.once('connect', () => socket.write(REQUEST));
    socket.on('data', (chunk: Buffer) => (raw += chunk.toString('latin1')));
    const closed = (): void => {
      const { status, complete } = parseResponse(raw);
      end(!complete ? 'reset' : status === '200' ? 'served' : `status ${status ?? '?'}`);
    };
    socket.once('end', closed);
    socket.once('close', closed);
    socket.once('error', (error: NodeJS.ErrnoException) => end(connectionError(error.code)));
  });
}

const sleepUntil = (epochMs: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, epochMs - Date.now())));

/** Starts an attempt every PROBE_EVERY_MS from `startAt` until `stopAt` (epoch ms), waits for all; prints one JSON line. */
async function runProbe({ port, startAt, stopAt, oneAtATime }: { port: number; startAt: number; stopAt: number; oneAtATime: boolean }): Promise<void> {
  await sleepUntil(startAt);
  if (oneAtATime) {
    // As a person or a health checker asks: the next attempt PROBE_EVERY_MS after this one ended.
    const results: Attempt[] = [];
    while (Date.now() < stopAt) {
      results.push(await probeOnce(port, startAt));
      await sleepUntil(Date.now() + PROBE_EVERY_MS);
    }
    return console.log(JSON.stringify(results));
  }
  const inFlight: Promise<Attempt>[] = [];
  // On a schedule, not a fixed delay after each start: a late timer starts the attempts it owes.
  for (let next = startAt; next < stopAt; next += PROBE_EVERY_MS) {
    await sleepUntil(next);
    inFlight.push(probeOnce(port, startAt));
  }
  const results = await Promise.all(inFlight);
  console.log(JSON.stringify(results));
}

// ---------------------------------------------------------------------------------------------
// One row: a server, the flood, the probe

interface Row {
  server: string;
  attempts: number;
  outcomes: Record<string, number>;
  servedMs: { p50: number; p99: number; max: number };
  failuresPercent: number;
  /** Each failed attempt: its outcome and when it began, ms after the probe's start. */
  failuresAt: string[];
  wrk: { requestsPerSecond: number; requests: number; durationSeconds: number; non2xx: number; servedPerSecond: number; socketErrors: string; output: string };
  serverDied: string | undefined;
}

function wrkArgs(seconds: number, port: number | string): string[] {
  return ['wrk', '-t', '1', '-c', String(FLOOD_CONNECTIONS), '-d', `${seconds}s`, '-H', 'Connection: close', `http://127.0.0.1:${port}/`];
}

function parseWrk(output: string, seconds: number): Row['wrk'] {
  const requestsPerSecond = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? NaN);
  const total = /(\d+) requests in ([\d.]+)(us|ms|s|m)\b/.exec(output);
  const requests = Number(total?.[1] ?? NaN);
  const scale = { us: 1e-6, ms: 1e-3, s: 1, m: 60 }[(total?.[3] ?? 's') as 'us' | 'ms' | 's' | 'm'];
  const durationSeconds = total ? Number(total[2]) * scale : seconds;
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0);
  const socketErrors = /Socket errors:\s*(.*)/.exec(output)?.[1]?.trim() ?? 'none';
  return { requestsPerSecond, requests, durationSeconds: round(durationSeconds, 2), non2xx, servedPerSecond: Math.round((requests - non2xx) / durationSeconds), socketErrors, output };
}

async function measure(label: string, script: string, flags: string[]): Promise<Row> {
  let running: Server;
  try {
    running = await startServer(script, ['--port', '0', ...flags], { cpu: 0 });
  } catch (error) {
    return exitUsage('fairness', `${label}: ${(error as Error).message}`);
  }
  try {
    const { seconds } = options;
    const wrkStart = Date.now();
    const flood = runPinned(1, wrkArgs(seconds, running.port), { limitMs: (seconds + 15) * 1000 });
    const startAt = wrkStart + WARM_UP_MS;
    const stopAt = wrkStart + seconds * 1000 - 1000;
    const probeArgs = [process.execPath, __filename, '--client', '--port', String(running.port), '--start-at', String(startAt), '--stop-at', String(stopAt), ...(options.oneAtATime ? ['--one-at-a-time'] : [])];
    const probe = runPinned(1, probeArgs, { limitMs: (seconds + 15) * 1000 + DEADLINE_MS });
    const [f, p] = await Promise.all([flood, probe]);
    if (f.killed || f.code !== 0) throw new Error(`${label}: wrk ${f.killed ? 'did not end in time' : `exited with ${f.code}`}: ${f.stdout}${f.stderr}`);
    if (p.killed || p.code !== 0) throw new Error(`${label}: the probe ${p.killed ? 'did not end in time' : `exited with ${p.code}`}: ${p.stderr}`);
    const results = lastJsonLine<Attempt[]>(p.stdout);
    const outcomes = tally(results.map((r) => r.outcome));
    const served = results.filter((r) => r.outcome === 'served').map((r) => r.ms);
    const failures = results.length - served.length; // every attempt not served: a 503 fails the client as a refusal does
    const child = running.child;
    const serverDied = child.exitCode !== null || child.signalCode !== null ? `exit code ${child.exitCode}, signal ${child.signalCode}` : undefined;
    return {
      server: label,
      attempts: results.length,
      outcomes,
      servedMs: { p50: round(percentile(served, 50)), p99: round(percentile(served, 99)), max: round(percentile(served, 100)) },
      failuresPercent: results.length === 0 ? NaN : round((100 * failures) / results.length),
      failuresAt: results.filter((r) => r.outcome !== 'served').map((r) => `${r.outcome} at ${Math.round(r.at)}`),
      wrk: parseWrk(f.stdout + f.stderr, seconds),
      serverDied,
    };
  } finally {
    await stopServer(running);
  }
}

function tableRow(row: Row): string {
  const o = row.outcomes;
  const other = Object.entries(o).filter(([k]) => !['served', 'refused', 'reset', 'timeout'].includes(k)).map(([k, n]) => `${k}: ${n}`).join(', ') || '0';
  const { p50, p99, max } = row.servedMs;
  const latency = Number.isNaN(p50) ? '-' : `${p50} / ${p99} / ${max}`;
  const server = row.serverDied ? `${row.server} (died: ${row.serverDied})` : row.server;
  const w = row.wrk;
  return `| ${server} | ${row.attempts} | ${o.served ?? 0} | ${o.refused ?? 0} | ${o.reset ?? 0} | ${o.timeout ?? 0} | ${other} | ${latency} | ${row.failuresPercent} | ${Math.round(w.requestsPerSecond)} (served ${w.servedPerSecond}/s) | ${w.socketErrors} |`;
}

async function main(): Promise<void> {
  requireWrk();
  requireCommand('taskset', ['-V']);
  const { seconds, busyMs, runs } = options;
  const busy = ['--busy-ms', String(busyMs)];
  const servers = [
    ...(options.onlyDemo ? [] : [{ label: `plain Node ${busy.join(' ')}`, script: 'build/bench/servers/plain-busy.js', flags: busy }]),
    ...options.demoVariants.map((variant) => ({ label: `demo ${[...busy, ...variant].join(' ')}`, script: 'build/demo/server.js', flags: [...busy, ...variant] })),
  ];
  const probeSeconds = seconds - 2;
  console.log(`# fairness: ${machine()}; servers on core 0, clients on core 1; --busy-ms ${busyMs}, ${seconds} s, ${runs} run(s)`);
  console.log(`# flood (from 127.0.0.1): taskset -c 1 ${wrkArgs(seconds, 'PORT').map((a) => (a.includes(' ') ? `"${a}"` : a)).join(' ')}`);
  console.log(
    `# probe (from ${PROBE_ADDRESS}): ${options.oneAtATime ? `one attempt at a time, the next ${PROBE_EVERY_MS} ms after the last ended,` : `one attempt every ${PROBE_EVERY_MS} ms (open loop)`} for ${probeSeconds} s after 1 s of warm-up, each a fresh connect(), ` +
      `GET / with Connection: close, read to the end, given up after ${DEADLINE_MS} ms; latency from connect() to the last byte`,
  );
  for (let run = 1; run <= runs; run++) {
    const rows: Row[] = [];
    for (const { label, script, flags } of servers) {
      const row = await measure(label, script, flags);
      const { output, ...wrkFigures } = row.wrk;
      console.log(JSON.stringify({ run, ...row, wrk: wrkFigures }));
      void output;
      rows.push(row);
    }
    console.log(runs > 1 ? `\n## run ${run} of ${runs}\n` : '');
    console.log('| server | probe attempts | served | refused | reset | timeout | other | served p50 / p99 / max ms | probe failures % | flood req/s (wrk) | flood socket errors |');
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const row of rows) console.log(tableRow(row));
    console.log('');
  }
}

if (options.client) void runProbe(options.client);
else
  main().catch((error: Error) => {
    console.error(`fairness: ${error.message}`);
    process.exit(1);
  });
