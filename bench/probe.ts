/*
 * probe: a closed-loop HTTP/1.1 load client that measures a server under CPU overload as its
 * clients see it. Written independently of bench/overload.ts, to check its figures with a
 * client of a different design.
 *
 *   npm run --silent bench:probe -- [--clients N] [--seconds N] [--rounds N]
 *       [--busy-ms N] [--demo-flags "FLAGS"]      start plain Node and the demo, measure both
 *   npm run --silent bench:probe -- --port P [--clients N] [--seconds N] [--rounds N]
 *                                                 measure a server already on 127.0.0.1:P
 *
 * Design.
 * - Closed loop: --clients (default 200) independent loops run for --seconds (default 10), all
 *   in this one process, which re-executes itself under `taskset -c 1` so the client has core 1
 *   to itself (servers it starts run on core 0). A loop has exactly one attempt in flight at a
 *   time and starts the next one only when the last has ended, so the offered load follows the
 *   server's pace, as real clients' would, instead of piling up at a fixed rate.
 * - A new connection per attempt: every attempt is its own `net.connect` to 127.0.0.1:PORT that
 *   writes `GET / HTTP/1.1`, `Host: probe`, `Connection: close` and reads until the server closes.
 *   No http module, no agent, no pooling, no keep-alive: each attempt goes through the server's
 *   accept loop, which is what is under test. The status line and the framing (Content-Length,
 *   chunked, or close-delimited) are parsed here.
 * - Timing: an attempt's time runs from the connect() call until its socket has closed (served,
 *   refused, reset or failed), so it includes the wait in the listen backlog, the handshake, the
 *   queue in the server and the response.
 * - Outcomes, one per attempt: served (a complete 200), another HTTP status (by code), refused
 *   (ECONNREFUSED), reset (ECONNRESET, EPIPE, or closed before a complete response), timed out
 *   (not ended 5 s after connect(): destroyed), other errors (by code; EBADRESPONSE for a
 *   response without an HTTP/1.x status line). A complete response counts by its status even if
 *   an error follows it.
 * - Immediate retry: whatever an attempt ends in other than a served 200, its loop starts the
 *   next attempt of the same request AT ONCE: no backoff, no pause.
 * - User request vs attempt: a user request runs from its first attempt's connect() until an
 *   attempt of it is served, or until the end of the run (the deadline); it then waited for all
 *   its attempts (one served after three refusals waited all four). When a request is served its
 *   loop starts a new user request at once. Requests still open at the deadline count with the
 *   time they had waited by then (a lower bound) and are reported as "open".
 * - Counted: only attempts that ended within the --seconds window. At the deadline the attempts
 *   still in flight are destroyed and counted nowhere but in "cut". served/s = served attempts /
 *   window. Attempt latency p50/p99/max is over served attempts only; user-request p50/p99 and the
 *   share over 1 s are over all user requests (served and open).
 * - The client's own CPU use over the window is reported: near 100 % means the client, not the
 *   server, may be the limit.
 * Loopback only; bounded in time (each row lasts --seconds plus at most a few seconds to start a
 * server); the only processes killed are the servers started here, by PID.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpus } from 'node:os';
import { exitUsage, parseFlags, words } from './support/flags';
import { hasExited, machine, median, percentile, sleep, startServer, stopServer, type Server } from './support/run';

const ATTEMPT_TIMEOUT_MS = 5000;
const PAUSE_BETWEEN_MS = 2000;
const REQUEST = 'GET / HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n';
/** Bytes of a response kept for parsing; the rest is counted, not stored. */
const KEEP_BYTES = 1 << 20;

interface Options {
  clients: number;
  seconds: number;
  port: number | undefined;
  busyMs: number;
  demoFlags: string[];
  demoFlagsText: string;
  rounds: number;
}

/** The flags; a value is taken as is, even when it starts with a dash. Exits 2 on a bad one. */
function parseOptions(args: string[]): Options {
  const flags = parseFlags(
    'probe',
    {
      clients: { kind: 'integer', min: 1, max: 5000, default: 200 },
      seconds: { kind: 'integer', min: 1, max: 3600, default: 10 },
      port: { kind: 'integer', min: 1, max: 65535 },
      'busy-ms': { kind: 'integer', min: 0, max: 10_000, default: 5 },
      'demo-flags': { kind: 'string', default: '--max-lag-ms 100' },
      rounds: { kind: 'integer', min: 1, max: 100, default: 1 },
    },
    args,
  );
  const { port, 'demo-flags': demoFlagsText } = flags.values;
  const given = (name: 'busy-ms' | 'demo-flags'): string => JSON.stringify(String(flags.values[name]));
  if (port !== undefined && flags.given('busy-ms')) flags.fail(`--busy-ms applies only without --port (the server on --port is already running), got ${given('busy-ms')}`);
  if (port !== undefined && flags.given('demo-flags')) flags.fail(`--demo-flags applies only without --port (the server on --port is already running), got ${given('demo-flags')}`);
  if (/["'\\]/.test(demoFlagsText)) flags.fail(`--demo-flags is split on spaces and takes no quotes or backslashes, got ${JSON.stringify(demoFlagsText)}`);
  const demoFlags = words(demoFlagsText);
  for (const token of demoFlags) {
    const flag = /^--(port|host|busy-ms|workers)(=|$)/.exec(token)?.[1];
    if (flag) flags.fail(`--demo-flags must not set --${flag} (the probe sets --port 0 and --busy-ms itself; the demo stays on 127.0.0.1, one process on core 0), got ${JSON.stringify(demoFlagsText)}`);
  }
  const { clients, seconds, 'busy-ms': busyMs, rounds } = flags.values;
  return { clients, seconds, port, busyMs, demoFlags, demoFlagsText, rounds };
}

function allowedCpus(): string {
  return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '?';
}

/** Re-runs this script under `taskset -c 1` unless already pinned there; true if it did (this process only waits). */
function pinToCore1(): boolean {
  if (allowedCpus() === '1') return false;
  if (process.env.PROBE_PINNED === '1') exitUsage('probe', `re-executed under taskset -c 1 but allowed CPUs are ${allowedCpus()}`);
  if (cpus().length < 2) exitUsage('probe', `needs at least 2 cores (servers on core 0, the client on core 1), this machine has ${cpus().length}`);
  const child = spawn('taskset', ['-c', '1', process.execPath, ...process.execArgv, __filename, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, PROBE_PINNED: '1' },
  });
  child.on('error', (error) => exitUsage('probe', `cannot run taskset (apt-get install -y util-linux): ${error.message}`));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
  return true;
}

interface Result {
  label: string;
  windowMs: number;
  attempts: number;
  served: number;
  statuses: Map<string, number>;
  refused: number;
  reset: Map<string, number>;
  timedOut: number;
  errors: Map<string, number>;
  servedMs: number[];
  userMs: number[];
  userServed: number;
  userOpen: number;
  cut: number;
  clientCpu: number;
}

function add(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

type Outcome = { kind: 'status'; code: string } | { kind: 'refused' } | { kind: 'reset'; why: string } | { kind: 'timeout' } | { kind: 'error'; code: string };

/** Whether `data` (of `total` bytes received) holds a complete HTTP/1.x response; its status if so. */
function response(data: Buffer, total: number, cleanEnd: boolean): { status: string } | 'incomplete' | 'malformed' {
  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd < 0) {
    const seen = data.subarray(0, 7).toString('latin1');
    return seen === 'HTTP/1.'.slice(0, seen.length) ? 'incomplete' : 'malformed';
  }
  const head = data.subarray(0, headEnd).toString('latin1');
  const status = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(head.split('\r\n')[0]!)?.[1];
  if (status === undefined) return 'malformed';
  const code = Number(status);
  if (code === 204 || code === 304 || (code >= 100 && code < 200)) return { status };
  const bodyBytes = total - headEnd - 4;
  const length = /^content-length:\s*(\d+)\s*$/im.exec(head)?.[1];
  if (/^transfer-encoding:.*chunked/im.test(head)) return chunkedComplete(data.subarray(headEnd + 4)) ? { status } : 'incomplete';
  if (length !== undefined) return bodyBytes >= Number(length) ? { status } : 'incomplete';
  return cleanEnd ? { status } : 'incomplete'; // close-delimited: complete only on a clean FIN
}

/** A chunked body is complete when its zero-size chunk and the (possibly empty) trailer section have arrived. */
function chunkedComplete(body: Buffer): boolean {
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd < 0) return false;
    const size = parseInt(body.subarray(at, lineEnd).toString('latin1').split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size)) return false;
    if (size === 0) return body.indexOf('\r\n\r\n', lineEnd) >= 0 || body.subarray(lineEnd + 2, lineEnd + 4).toString('latin1') === '\r\n';
    at = lineEnd + 2 + size + 2;
    if (at > body.length) return false;
  }
}

/** One closed-loop measurement of 127.0.0.1:port for `seconds`. */
function measure(label: string, port: number, clients: number, seconds: number): Promise<Result> {
  const result: Result = {
    label, windowMs: 0, attempts: 0, served: 0, statuses: new Map(), refused: 0, reset: new Map(), timedOut: 0,
    errors: new Map(), servedMs: [], userMs: [], userServed: 0, userOpen: 0, cut: 0, clientCpu: 0,
  };
  const inFlight = new Set<Socket>();
  const userStart: number[] = new Array(clients).fill(0);
  let stopped = false;
  const cpu0 = process.cpuUsage();
  const start = performance.now();

  const attempt = (loop: number): void => {
    const t0 = performance.now();
    const socket = connect({ host: '127.0.0.1', port });
    inFlight.add(socket);
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let total = 0;
    let ended = false;
    let errorCode: string | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
    }, ATTEMPT_TIMEOUT_MS);
    socket.on('connect', () => socket.write(REQUEST));
    socket.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (keptBytes < KEEP_BYTES) {
        kept.push(chunk);
        keptBytes += chunk.length;
      }
    });
    socket.on('end', () => (ended = true));
    socket.on('error', (error: NodeJS.ErrnoException) => (errorCode ??= error.code ?? 'EUNKNOWN'));
    socket.on('close', () => {
      clearTimeout(timer);
      inFlight.delete(socket);
      if (stopped) return; // destroyed at the deadline: counted in `cut` only
      const t1 = performance.now();
      result.attempts++;
      const outcome = classify(Buffer.concat(kept), total, ended && errorCode === undefined, errorCode, timedOut);
      if (outcome.kind === 'status' && outcome.code === '200') {
        result.served++;
        result.servedMs.push(t1 - t0);
        result.userMs.push(t1 - userStart[loop]!);
        result.userServed++;
        userStart[loop] = performance.now();
      } else if (outcome.kind === 'status') add(result.statuses, outcome.code);
      else if (outcome.kind === 'refused') result.refused++;
      else if (outcome.kind === 'reset') add(result.reset, outcome.why);
      else if (outcome.kind === 'timeout') result.timedOut++;
      else add(result.errors, outcome.code);
      attempt(loop); // the next attempt, of this user request or of a new one: at once
    });
  };

  return new Promise((resolve) => {
    for (let loop = 0; loop < clients; loop++) {
      userStart[loop] = performance.now();
      attempt(loop);
    }
    setTimeout(() => {
      stopped = true;
      const end = performance.now();
      result.windowMs = end - start;
      const cpu = process.cpuUsage(cpu0);
      result.clientCpu = (cpu.user + cpu.system) / 1000 / result.windowMs;
      result.cut = inFlight.size;
      for (const socket of inFlight) socket.destroy();
      for (let loop = 0; loop < clients; loop++) result.userMs.push(end - userStart[loop]!); // every loop has one open request
      result.userOpen = clients;
      // Let the destroyed sockets' 'close' events run before the next measurement starts.
      setTimeout(() => resolve(result), 50);
    }, seconds * 1000);
  });
}

function classify(data: Buffer, total: number, cleanEnd: boolean, errorCode: string | undefined, timedOut: boolean): Outcome {
  if (timedOut) return { kind: 'timeout' };
  const parsed = response(data, total, cleanEnd);
  if (typeof parsed === 'object') return { kind: 'status', code: parsed.status };
  if (errorCode === 'ECONNREFUSED') return { kind: 'refused' };
  if (errorCode === 'ECONNRESET' || errorCode === 'EPIPE') return { kind: 'reset', why: errorCode };
  if (errorCode !== undefined) return { kind: 'error', code: errorCode };
  if (parsed === 'malformed') return { kind: 'error', code: 'EBADRESPONSE' };
  return { kind: 'reset', why: total === 0 ? 'closed-empty' : 'closed-partial' };
}

function ms(value: number): string {
  if (Number.isNaN(value)) return '–';
  return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0);
}

function breakdown(map: Map<string, number>): string {
  const sum = [...map.values()].reduce((a, b) => a + b, 0);
  if (sum === 0) return '0';
  return `${sum} (${[...map.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}: ${v}`).join(', ')})`;
}

const HEADER =
  '| server | served/s | attempts | served | other status | refused | reset | timed out | other errors | cut | attempt p50 / p99 / max ms | user p50 / p99 ms | user > 1 s | user served / open | client CPU |\n' +
  '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|';

function row(r: Result): string {
  let max = NaN;
  for (const v of r.servedMs) if (!(v <= max)) max = v;
  const over1s = r.userMs.filter((v) => v > 1000).length;
  return `| ${r.label} | ${(r.served / (r.windowMs / 1000)).toFixed(1)} | ${r.attempts} | ${r.served} | ${breakdown(r.statuses)} | ${r.refused} | ${breakdown(r.reset)} | ${r.timedOut} | ${breakdown(r.errors)} | ${r.cut} | ${ms(percentile(r.servedMs, 50))} / ${ms(percentile(r.servedMs, 99))} / ${ms(max)} | ${ms(percentile(r.userMs, 50))} / ${ms(percentile(r.userMs, 99))} | ${r.userMs.length ? ((100 * over1s) / r.userMs.length).toFixed(1) : '–'} % | ${r.userServed} / ${r.userOpen} | ${(100 * r.clientCpu).toFixed(0)} % |`;
}

let current: Server | undefined;

/** Starts a server on core 0, measures it, kills it (by PID); notes if it died meanwhile. */
async function measureStarted(label: string, script: string, args: string[], o: Options): Promise<Result> {
  current = await startServer(script, args, { cpu: 0 });
  try {
    const result = await measure(`${label} (pid ${current.pid})`, current.port, o.clients, o.seconds);
    if (hasExited(current.child)) {
      result.label += ` DIED (${current.child.exitCode ?? current.child.signalCode})`;
    }
    return result;
  } finally {
    await stopServer(current);
    current = undefined;
  }
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (pinToCore1()) return;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (current && !hasExited(current.child)) current.child.kill('SIGKILL');
      process.exit(130);
    });
  }

  console.log('# probe: closed-loop HTTP/1.1 client, a new connection per attempt, immediate retry');
  console.log('');
  console.log(`- machine: ${machine()}`);
  console.log(`- client: ${o.clients} loops in one process (pid ${process.pid}) on CPUs ${allowedCpus()}, ${o.seconds} s per row, attempt timeout ${ATTEMPT_TIMEOUT_MS / 1000} s`);
  if (o.port !== undefined) {
    console.log(`- server: already running on 127.0.0.1:${o.port} (not started here: its Node version and pinning are the caller's)`);
  } else {
    console.log(`- servers: on core 0, started fresh one after another with the client's own binary ${process.execPath} (Node ${process.version}), --busy-ms ${o.busyMs}`);
    console.log(`- plain: build/bench/servers/plain-busy.js; demo: build/demo/server.js with ${o.demoFlagsText || '(no flags)'}`);
  }
  console.log('');
  console.log(HEADER);

  if (o.port !== undefined) {
    for (let round = 1; round <= o.rounds; round++) {
      if (round > 1) await sleep(PAUSE_BETWEEN_MS);
      console.log(row(await measure(`127.0.0.1:${o.port} #${round}`, o.port, o.clients, o.seconds)));
    }
    return;
  }

  const ratios: number[] = [];
  const busy = ['--port', '0', '--busy-ms', String(o.busyMs)];
  for (let round = 1; round <= o.rounds; round++) {
    if (round > 1) await sleep(PAUSE_BETWEEN_MS);
    const plain = await measureStarted(`plain #${round}`, 'build/bench/servers/plain-busy.js', busy, o);
    console.log(row(plain));
    await sleep(PAUSE_BETWEEN_MS);
    const demo = await measureStarted(`demo #${round}`, 'build/demo/server.js', [...busy, ...o.demoFlags], o);
    console.log(row(demo));
    ratios.push(demo.served / demo.windowMs / (plain.served / plain.windowMs));
  }
  console.log('');
  console.log(`served/s demo / plain: ${ratios.map((r) => r.toFixed(2)).join(', ')}${ratios.length > 1 ? ` (median ${median(ratios).toFixed(2)})` : ''}`);
}

main().catch((error) => {
  if (current) current.child.kill('SIGKILL');
  console.error(error);
  process.exit(1);
});
