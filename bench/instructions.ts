/*
 * The accept path's cost in instructions, not seconds: each server runs under valgrind's
 * callgrind, which counts the instructions the process executes in user space (the kernel's
 * work is the same on both sides and not counted), the same count whatever else the machine
 * is doing. A VM's timing noise (±10% between runs of the same build here) hides a difference
 * of a few percent; this does not.
 *
 * For each server and mode, one process: `--requests N` requests warm it up, the counters are
 * zeroed (`callgrind_control -z`), 2N more are sent and counted (`callgrind_control --dump`):
 * what one request costs once warm, on the main thread (the event loop; V8's helper threads
 * are left out, see below), with nothing of start-up or exit in it. (Taking the difference of
 * two whole runs, N and 3N requests, as this did before, carried the start-up's own variation,
 * about 1.2 billion instructions ± 1%, into every figure: ±1.5-3% between runs.) Under valgrind
 * V8 goes on compiling for thousands of requests: fewer than 4000 to warm up measure that.
 * `--rounds R` repeats everything R times, the servers alternating, and prints the median.
 * Servers (`--servers`, comma-separated): plain (http.createServer().listen()), handoff (a
 * net.Server handing sockets to http, no library), listen, errors, limit, serve (the pipeline
 * built up one stage at a time, bench/servers/stages.ts), pipeline (serve(handTo(http))).
 * Modes: `close` (a new connection per request, as wrk -H 'Connection: close') and
 * `keep-alive` (8 connections reused). Loopback only; every run bounded.
 *
 *   apt-get install -y valgrind    # when missing
 * With `--idle N`, N idle connections are opened first and held open through the run, to
 * see whether a request costs more when many connections are live (it should not); the
 * servers' connection limit is N + 10 000, and their request timeouts are off (a run lasts
 * minutes under valgrind: http would answer the idle connections 408 and close them).
 *
 *   npm run bench:instructions [-- --requests N --rounds R --servers plain,pipeline --modes close,keep-alive --idle N]
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { parseFlags } from './support/flags';
import { machine, median, requireCommand, root } from './support/run';

// Each server: its script and arguments. The stages build the pipeline up one operator at a time.
const stage = (name: string): [string, string[]] => ['build/bench/servers/stages.js', ['--stage', name]];
const SERVERS: Record<string, [string, string[]]> = {
  plain: ['build/bench/servers/plain.js', []],
  handoff: ['build/bench/servers/handoff.js', []],
  listen: stage('listen'),
  errors: stage('errors'),
  limit: stage('limit'),
  serve: stage('serve'),
  pipeline: ['build/bench/servers/pipeline.js', []],
};
const { requests, rounds, idle, servers, modes } = parseFlags('instructions', {
  requests: { kind: 'integer', min: 1000, default: 4000 },
  rounds: { kind: 'integer', min: 1, default: 1 },
  idle: { kind: 'integer', min: 0, default: 0 },
  servers: { kind: 'list', choices: Object.keys(SERVERS), default: 'plain,pipeline' },
  modes: { kind: 'list', choices: ['close', 'keep-alive'], default: 'close,keep-alive' },
}).values;
const CONCURRENCY = 8;

/** `count` GETs, CONCURRENCY at a time, each on a new connection or on CONCURRENCY reused ones. */
async function load(port: number, count: number, mode: string): Promise<void> {
  const agent = mode === 'keep-alive' ? new Agent({ keepAlive: true, maxSockets: CONCURRENCY }) : undefined;
  let started = 0;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const headers = mode === 'close' ? { Connection: 'close' } : {};
      request({ host: '127.0.0.1', port, path: '/', agent: agent ?? false, headers }, (response) => {
        response.resume();
        response.on('end', resolve);
      })
        .on('error', reject)
        .end();
    });
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (started < count) {
        started++;
        await one();
      }
    }),
  );
  agent?.destroy();
}

/** Instructions the server's main thread executed per request, over `2 × warm` requests after `warm`. */
async function instructions([script, args]: [string, string[]], warm: number, mode: string): Promise<number> {
  const out = join(tmpdir(), `rxjs-listen-callgrind-${process.pid}-${Date.now()}.out`);
  const child = spawn('valgrind', ['--tool=callgrind', '--separate-threads=yes', `--callgrind-out-file=${out}`, process.execPath, join(root, script), ...args, '--port', '0', '--limit', String(idle + 10_000), '--no-request-timeouts'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  const deadline = Date.now() + 120_000;
  while (!/listening on .*:(\d+)/.test(stdout)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${script} ${args.join(' ')} did not start under valgrind: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const port = Number(/listening on .*:(\d+)/.exec(stdout)![1]);
  const held: Socket[] = [];
  const measured = 2 * warm;
  try {
    // Idle connections first, 100 at a time (each connected before the next batch).
    while (held.length < idle) {
      const batch = Array.from({ length: Math.min(100, idle - held.length) }, () => connect(port, '127.0.0.1'));
      await Promise.all(batch.map((socket) => once(socket, 'connect')));
      held.push(...batch);
    }
    await load(port, warm, mode);
    control(child.pid!, '--zero');
    await load(port, measured, mode);
    control(child.pid!, '--dump=measured');
  } finally {
    for (const socket of held) socket.destroy();
    child.kill('SIGTERM'); // the servers exit(0) on SIGTERM
    await once(child, 'exit');
  }
  // One file per thread and dump: `.1-01` is the first dump's main thread, the event loop that
  // serves. V8's compiler and garbage-collector helper threads run on their own schedule
  // (measured: 4% apart between two runs of the same server counting them all): left out.
  const files = readdirSync(dirname(out)).filter((f) => f.startsWith(basename(out)));
  const main = readFileSync(`${out}.1-01`, 'utf8');
  for (const file of files) rmSync(join(dirname(out), file), { force: true });
  return Number(/^(?:summary|totals): (\d+)/m.exec(main)![1]) / measured;
}

/** Sends a command to the callgrind run of `pid` (through valgrind's gdbserver, which it starts by default). */
function control(pid: number, command: string): void {
  execFileSync('callgrind_control', [command, String(pid)], { stdio: 'ignore', timeout: 30_000 });
}

async function main(): Promise<void> {
  requireCommand('valgrind', ['--version']);
  console.log(`# instructions: ${requests} requests to warm up, ${2 * requests} counted, ${CONCURRENCY} at a time, ${idle} idle connections held, ${rounds} round(s); ${machine()}`);
  const rows: string[] = [];
  for (const mode of modes) {
    const perRequest: Record<string, number[]> = Object.fromEntries(servers.map((s) => [s, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const server of servers) {
        const count = await instructions(SERVERS[server]!, requests, mode);
        perRequest[server]!.push(count);
        console.log(JSON.stringify({ mode, round, server, perRequest: Math.round(count) }));
      }
    }
    const medians = Object.fromEntries(servers.map((s) => [s, median(perRequest[s]!)]));
    const cells = servers.map((s) => `${Math.round(medians[s]!)}`);
    const ratio = medians.plain !== undefined && medians.pipeline !== undefined ? (medians.plain / medians.pipeline).toFixed(3) : '-';
    rows.push(`| ${mode} | ${cells.join(' | ')} | ${ratio} |`);
  }
  console.log(`\n| mode | ${servers.map((s) => `${s} (instructions per request${rounds > 1 ? ', median' : ''})`).join(' | ')} | plain / pipeline |`);
  console.log(`|---|${servers.map(() => '---|').join('')}---|`);
  for (const row of rows) console.log(row);
}

void main();
