/*
 * Real nginx and real HAProxy in front of two backends on loopback, every outcome counted as
 * the client sees it.
 *
 * restarts: rolling restarts under POST load. 40 closed-loop clients POST a small JSON body
 * through the balancer (one keep-alive agent, 40 sockets; nothing retried; a request not
 * answered within 5 s counts as a timeout) while each backend is restarted twice, one after the
 * other (a, b, a, b: SIGTERM, wait for its exit, start it again on the same port, wait for its
 * ready line, 1 s for the balancer to see it, next). The load lasts --seconds (default 14), or
 * until 1 s after the last ready line if the restarts take longer. The balancers keep upstream
 * keep-alive connections, as production configurations do (the lines used are printed first).
 * Backends, the same for every balancer, each answering after 20 ms:
 *   plain server.close()   bench/servers/plain-close.ts: SIGTERM -> server.close(), exit when it calls back
 *   http-terminator        bench/servers/plain-terminator.ts: SIGTERM -> terminate() (grace 5000 ms), exit
 *   demo --drain-ms 5000   the demo with --drain-ms 5000 --drain-quiet-ms 1000 --health-port 0 and a
 *                          fixed --agent-port per backend (HAProxy: agent-check on its server line)
 *   demo, no agent-check   (HAProxy only) the same demo, the server lines without agent-check
 *
 * overload: two demo backends behind HAProxy, one CPU-bound (--busy-ms 10 --max-lag-ms 50: it
 * pauses while its event loop lags; see OVERLOAD_BACKENDS for why not --limit), one not
 * (--busy-ms 1, the defaults); GETs arrive at --rate per second (default 200: an even split gives
 * the busy one 100/s, all its CPU, and the fast one a tenth of its), whatever the earlier ones
 * became (an open load: a closed loop of clients saturates the whole service, so that its
 * latency measures the total capacity, not where HAProxy sends), each a fresh connect() with
 * `Connection: close`, timed from connect() to the last byte, given up after 5 s. Without, then
 * with agent-check on the server lines, then with it and --drain-before-pause-ms 400 on the
 * backends (a pause announced to the agent before the listener closes), fresh backends for each. Every 100 ms this script asks
 * the busy backend's agent (in both cases), reads its kernel accept queue (`ss -ltn`), and reads
 * HAProxy's view of both servers from its stats socket.
 *
 * nginx and HAProxy (Debian's packages) run as this user from a temporary directory, on free
 * ports of 127.0.0.1, in the foreground, and are stopped by their PIDs; the directory is removed.
 *
 *   npm run bench:balancers [-- --only restarts|overload] [--runs N] [--seconds N] [--rate N]
 *
 * --runs: the restarts part N times in a row (every balancer and backend kind each time);
 * default 1. --seconds: the restarts' load lasts at least N s (default 14) and the overload's
 * load N s (default 10). --rate: the overload's new GETs per second (default 200).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, machine, median, onInterrupt, percentile, requireCommand, startServer, stopServer, tally, type Server } from './support/run';

// ---------------------------------------------------------------------------------------------
// Options

function fail(message: string): never {
  console.error(`balancers: ${message}`);
  console.error('usage: npm run bench:balancers [-- --only restarts|overload] [--runs N] [--seconds N] [--rate N]');
  return process.exit(2);
}

function parseOptions(): { only: 'restarts' | 'overload' | undefined; runs: number; seconds: number | undefined; rate: number | undefined } {
  let values: { only?: string; runs?: string; seconds?: string; rate?: string };
  try {
    values = parseArgs({ options: { only: { type: 'string' }, runs: { type: 'string' }, seconds: { type: 'string' }, rate: { type: 'string' } } }).values;
  } catch (error) {
    return fail((error as Error).message);
  }
  const integer = (name: 'runs' | 'seconds' | 'rate', min: number, max: number): number | undefined => {
    const text = values[name];
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === '' || !Number.isInteger(value) || value < min || value > max) fail(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
    return value;
  };
  const only = values.only;
  if (only !== undefined && only !== 'restarts' && only !== 'overload') fail(`--only must be restarts or overload, got ${JSON.stringify(only)}`);
  return { only, runs: integer('runs', 1, 20) ?? 1, seconds: integer('seconds', 2, 120), rate: integer('rate', 1, 5000) };
}

const options = parseOptions();

// ---------------------------------------------------------------------------------------------
// Small helpers

const HOST = '127.0.0.1';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const round = (value: number, digits = 1): number => Number(value.toFixed(digits));

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, HOST);
    socket.setTimeout(1000, () => (socket.destroy(), resolve(false)));
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** Waits for `child` to exit, at most `ms`; true if it did. */
async function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([once(child, 'exit').then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return done;
}

/** Stops a child by its PID: `signal`, then SIGKILL after `ms`. */
async function stopChild(child: ChildProcess, signal: NodeJS.Signals, ms = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  if (!(await exited(child, ms))) {
    child.kill('SIGKILL');
    await exited(child, ms);
  }
}

/** What an agent port answers (one line, e.g. `ready up 100%`), or the connection's error code. */
function askAgent(port: number): Promise<string> {
  return new Promise((resolve) => {
    let line = '';
    const socket = connect(port, HOST);
    socket.setTimeout(1000, () => (socket.destroy(), resolve('timeout')));
    socket.on('data', (chunk: Buffer) => (line += chunk.toString()));
    socket.once('end', () => (socket.destroy(), resolve(line.trim() || 'empty')));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

// ---------------------------------------------------------------------------------------------
// Backends

interface Kind {
  kind: string;
  script: string;
  flags: string[];
  /** A demo: started with a fixed --agent-port (HAProxy reads it when `agentCheck`). */
  demo: boolean;
  /** HAProxy's server lines carry agent-check. */
  agentCheck: boolean;
  /** Rows for these balancers only. */
  balancers: ('nginx' | 'haproxy')[];
}

const HOLD = ['--hold-ms', '20'];
const DEMO_DRAIN = [...HOLD, '--drain-ms', '5000', '--drain-quiet-ms', '1000', '--health-port', '0'];
const KINDS: Kind[] = [
  { kind: 'plain server.close()', script: 'build/bench/servers/plain-close.js', flags: HOLD, demo: false, agentCheck: false, balancers: ['nginx', 'haproxy'] },
  { kind: 'http-terminator', script: 'build/bench/servers/plain-terminator.js', flags: HOLD, demo: false, agentCheck: false, balancers: ['nginx', 'haproxy'] },
  { kind: 'demo --drain-ms 5000', script: 'build/demo/server.js', flags: DEMO_DRAIN, demo: true, agentCheck: true, balancers: ['nginx', 'haproxy'] },
  { kind: 'demo --drain-ms 5000, no agent-check', script: 'build/demo/server.js', flags: DEMO_DRAIN, demo: true, agentCheck: false, balancers: ['haproxy'] },
];

/** One backend: a process on a fixed port (and agent port), restarted in place. */
class Backend {
  server!: Server;
  /** When this process wrote its `stopping:` line (the demo: its drain ended), ms on the run's clock. */
  stoppedAt: number | undefined;
  readonly stderrTail: string[] = [];

  constructor(
    readonly name: string,
    readonly script: string,
    readonly flags: string[],
    readonly port: number,
    readonly agentPort: number | undefined,
    private readonly clock: () => number,
  ) {}

  async start(): Promise<void> {
    const args = ['--port', String(this.port), ...this.flags, ...(this.agentPort === undefined ? [] : ['--agent-port', String(this.agentPort)])];
    this.server = await startServer(this.script, args);
    this.stoppedAt = undefined;
    this.server.child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      if (this.stoppedAt === undefined && text.includes('stopping:')) this.stoppedAt = this.clock();
      this.stderrTail.push(...text.split('\n').filter((l) => l !== ''));
      if (this.stderrTail.length > 20) this.stderrTail.splice(0, this.stderrTail.length - 20);
    });
  }

  async stop(): Promise<void> {
    if (this.server) await stopServer(this.server);
  }
}

interface Restart {
  backend: string;
  sigterm: number; // ms on the run's clock
  drainEnd?: number; // the demo's `stopping:` line
  exit: number;
  exitCode: number | string | null;
  ready: number;
}

/** SIGTERM, wait for the exit (at most 30 s, then SIGKILL), start again on the same port, wait for the ready line. */
async function restart(backend: Backend, clock: () => number): Promise<Restart> {
  const sigterm = clock();
  const child = backend.server.child;
  child.kill('SIGTERM');
  let exitCode: number | string | null;
  if (await exited(child, 30_000)) exitCode = child.exitCode ?? child.signalCode;
  else {
    child.kill('SIGKILL');
    await exited(child, 5000);
    exitCode = 'killed after 30 s';
  }
  const exit = clock();
  const drainEnd = backend.stoppedAt;
  await backend.start();
  return { backend: backend.name, sigterm, ...(drainEnd === undefined ? {} : { drainEnd }), exit, exitCode, ready: clock() };
}

// ---------------------------------------------------------------------------------------------
// Balancers

interface Balancer {
  readonly name: 'nginx' | 'haproxy';
  readonly port: number;
  readonly dir: string;
  stop(): Promise<void>;
}

const NGINX_UPSTREAM = (ports: number[]): string[] => [
  'upstream backends {',
  ...ports.map((p) => `  server 127.0.0.1:${p} max_fails=0;`),
  '  keepalive 32;',
  '}',
];
const NGINX_LOCATION = ['proxy_pass http://backends;', 'proxy_http_version 1.1;', 'proxy_set_header Connection "";'];

function nginxConf(dir: string, port: number, backendPorts: number[]): string {
  return `daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log error;
events { worker_connections 4096; }
http {
  # Every request that is not a clean 200 from one upstream: when, what, from where.
  map "$status:$upstream_status" $unusual { "200:200" 0; default 1; }
  log_format unusual '$msec $status "$upstream_status" "$upstream_addr" $request_time $connection';
  access_log ${dir}/access.log unusual if=$unusual;
  # Debian's defaults are under /var/lib/nginx, which only root may write.
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${NGINX_UPSTREAM(backendPorts).map((l) => `  ${l}`).join('\n')}
  server {
    listen 127.0.0.1:${port};
    location / {
${NGINX_LOCATION.map((l) => `      ${l}`).join('\n')}
      # proxy_next_upstream error timeout (the default): a POST only if it was never sent
    }
  }
}
`;
}

async function startNginx(dir: string, port: number, backendPorts: number[]): Promise<Balancer> {
  chmodSync(dir, 0o755); // run as root, nginx's worker is `nobody` and creates its temp directories here
  writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir, port, backendPorts));
  // -e: the error log before the configuration is read (else /var/log/nginx, root's).
  const child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // SIGQUIT (graceful), then SIGTERM (fast): the master stops its worker either way; SIGKILL would orphan it.
  const stop = async (): Promise<void> => {
    for (const signal of ['SIGQUIT', 'SIGTERM'] as const) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited(child, 5000);
    }
  };
  for (let i = 0; i < 50 && child.exitCode === null; i++) {
    if (await canConnect(port)) return { name: 'nginx', port, dir, stop };
    await sleep(100);
  }
  await stop();
  throw new Error(`nginx did not start: ${stderr.trim()}`);
}

interface HaproxyServer {
  name: string;
  port: number;
  agentPort?: number;
}

const HAPROXY_DEFAULTS = [
  'mode http',
  'option http-keep-alive   # the default: keep-alive on both sides',
  'http-reuse safe          # the default: idle server connections shared between clients',
  'retries 3                # the default',
  'option redispatch        # not the default, but in most production configurations: the last retry to another server',
  'timeout connect 5s',
  'timeout client 30s',
  'timeout server 30s',
];
const haproxyServerLine = (s: HaproxyServer, agentInterMs: number): string =>
  `server ${s.name} 127.0.0.1:${s.port} check weight 100${s.agentPort === undefined ? '' : ` agent-check agent-port ${s.agentPort} agent-inter ${agentInterMs}ms`}`;

function haproxyConf(dir: string, port: number, servers: HaproxyServer[], agentInterMs: number): string {
  return `global
  stats socket ${dir}/admin.sock level admin
  log stdout format raw local0 info
defaults
${HAPROXY_DEFAULTS.map((l) => `  ${l}`).join('\n')}
  log global
  # Only what is not a plain success: when it ended (epoch ms), status, termination state, server, retries, total ms.
  option dontlog-normal
  log-format "%[date(0,ms)] %ST %ts %s %rc %Ta"
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  balance roundrobin
${servers.map((s) => `  ${haproxyServerLine(s, agentInterMs)}`).join('\n')}
`;
}

interface Haproxy extends Balancer {
  /** The abnormal requests HAProxy logged (`END_MS STATUS STATE SERVER RETRIES TOTAL_MS`), and its own messages. */
  log: string[];
  stderr: string[];
}

async function startHaproxy(dir: string, port: number, servers: HaproxyServer[], agentInterMs: number): Promise<Haproxy> {
  writeFileSync(join(dir, 'haproxy.cfg'), haproxyConf(dir, port, servers, agentInterMs));
  // -db: foreground, no daemon, one process, stopped by its PID.
  const child = spawn('haproxy', ['-f', join(dir, 'haproxy.cfg'), '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  const stderr: string[] = [];
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    log.push(...lines.filter((l) => l !== ''));
  });
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(...chunk.toString().split('\n').filter((l) => l !== '')));
  const stop = (): Promise<void> => stopChild(child, 'SIGTERM');
  for (let i = 0; i < 50 && child.exitCode === null; i++) {
    if (await canConnect(port)) return { name: 'haproxy', port, dir, stop, log, stderr };
    await sleep(100);
  }
  await stop();
  throw new Error(`haproxy did not start: ${stderr.join('\n')}`);
}

/** `show stat` on HAProxy's admin socket: the rows of backend `be`'s servers, by column name. */
function showStat(dir: string): Promise<Record<string, string>[]> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(join(dir, 'admin.sock'));
    socket.setTimeout(1000, () => socket.destroy(new Error('show stat timed out')));
    socket.once('connect', () => socket.write('show stat\n'));
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.once('error', reject);
    socket.once('close', () => {
      const [header, ...rows] = text.split('\n').filter((l) => l !== '');
      if (!header?.startsWith('# ')) return reject(new Error(`show stat: ${text.slice(0, 200)}`));
      const names = header.slice(2).split(',');
      resolve(
        rows
          .map((row) => Object.fromEntries(row.split(',').map((value, i) => [names[i], value])))
          .filter((r) => r.pxname === 'be' && r.svname !== 'BACKEND'),
      );
    });
  });
}

/** Waits (at most `ms`) until every server of `be` reads UP. */
async function waitUp(dir: string, ms = 10_000): Promise<void> {
  let last: Record<string, string>[] = [];
  for (const start = Date.now(); Date.now() - start < ms; await sleep(50)) {
    last = await showStat(dir);
    if (last.length > 0 && last.every((r) => r.status === 'UP')) return;
  }
  throw new Error(`HAProxy's servers did not come UP: ${last.map((r) => `${r.svname} ${r.status}`).join(', ')}`);
}

// ---------------------------------------------------------------------------------------------
// Restarts: the POST load

interface Post {
  outcome: string; // '200', '502', '503', 'status N', 'ECONNRESET', 'timeout', ...
  ms: number;
}

const POST_DEADLINE_MS = 5000;

function post(port: number, agent: Agent, n: number): Promise<Post> {
  const body = JSON.stringify({ hello: 'balancer', n });
  const start = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const end = (outcome: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ outcome, ms: performance.now() - start });
    };
    const req = request(
      { host: HOST, port, method: 'POST', path: '/', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.once('end', () => end(String(res.statusCode)));
        res.once('error', (error: NodeJS.ErrnoException) => end(error.code ?? 'response error'));
      },
    );
    const timer = setTimeout(() => {
      end('timeout');
      req.destroy(new Error('timeout'));
    }, POST_DEADLINE_MS);
    req.once('error', (error: NodeJS.ErrnoException) => end(error.code ?? error.message));
    req.end(body);
  });
}

/** `clients` closed loops POSTing until `stop()` is called; every request started runs to its end. */
function postLoad(port: number, clients: number): { stop(): Promise<Post[]> } {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const results: Post[] = [];
  let running = true;
  let n = 0;
  const loop = async (): Promise<void> => {
    while (running) results.push(await post(port, agent, n++));
  };
  const loops = Promise.all(Array.from({ length: clients }, loop));
  return {
    async stop() {
      running = false;
      await loops;
      agent.destroy();
      return results;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Restarts: what the balancers logged

/** nginx's reasons for its upstream errors, by backend: "b: upstream prematurely closed connection while reading response header from upstream". */
function nginxErrors(dir: string, backends: Backend[]): Record<string, number> {
  const name = (port: string | undefined): string => backends.find((b) => String(b.port) === port)?.name ?? 'no upstream';
  const lines = readFileSync(join(dir, 'error.log'), 'utf8').split('\n');
  return tally(
    lines.flatMap((line) => {
      const reason = /\*\d+ (.+?), client:/.exec(line)?.[1];
      if (!reason) return line.includes('[error]') || line.includes('[crit]') ? [line.replace(/^.*?\[/, '[').slice(0, 120)] : [];
      return `${name(/upstream: "http:\/\/127\.0\.0\.1:(\d+)/.exec(line)?.[1])}: ${reason}`;
    }),
  );
}

/** Where an event at `at` (ms on the run's clock) falls in the restarts, e.g. "a: 2 ms after its drain ended, before exit". */
function phase(at: number, restarts: Restart[]): string {
  for (const r of restarts) {
    if (at < r.sigterm - 100 || at > r.ready + 1000) continue;
    const label = ((): string => {
      if (at < r.sigterm) return 'just before SIGTERM';
      if (r.drainEnd !== undefined && at < r.drainEnd) return 'draining';
      if (r.drainEnd !== undefined && at < r.exit) return `${Math.max(0, Math.round(at - r.drainEnd))} ms after its drain ended, before exit`;
      if (at < r.exit) return 'after SIGTERM, before exit';
      if (at < r.ready) return 'between exit and ready';
      return 'within 1 s after ready';
    })();
    return `${r.backend} ${label}`;
  }
  return 'away from any restart';
}

/** nginx's answers other than a 200 from one upstream, by status, upstream statuses and backends, and where they fell in the restarts. */
function nginxUnusual(dir: string, t0: number, backends: Backend[], restarts: Restart[]): Record<string, number> {
  const name = (addr: string): string => backends.find((b) => addr.endsWith(`:${b.port}`))?.name ?? addr;
  const lines = readFileSync(join(dir, 'access.log'), 'utf8').split('\n').filter((l) => l !== '');
  return tally(
    lines.map((line) => {
      const match = /^(\S+) (\d+) "([^"]*)" "([^"]*)"/.exec(line);
      if (!match) return `unparsed: ${line.slice(0, 80)}`;
      const [, msec, status, upstreamStatus, upstreamAddr] = match;
      const at = Number(msec) * 1000 - t0;
      return `${status} (upstream ${upstreamStatus} from ${upstreamAddr!.split(', ').map(name).join(', ')}): ${phase(at, restarts)}`;
    }),
  );
}

/** HAProxy's abnormal requests by status, termination state, server and retries, and where they fell in the restarts; its own messages apart. */
function haproxyUnusual(log: string[], t0: number, restarts: Restart[]): { requests: Record<string, number>; messages: Record<string, number> } {
  const requests = log.filter((l) => /^\d+ -?\d+ /.test(l));
  const messages = log.filter((l) => !/^\d+ -?\d+ /.test(l));
  return {
    requests: tally(
      requests.map((line) => {
        const [end, status, state, server, retries] = line.split(' ');
        return `${status} ${state} ${server} retries=${retries}${restarts.length === 0 ? '' : `: ${phase(Number(end) - t0, restarts)}`}`;
      }),
    ),
    messages: tally(messages.map((l) => l.replace(/, reason: ([^,]*).*$/, ' ($1)').replace(/\. \d+ active.*$/, ''))),
  };
}

// ---------------------------------------------------------------------------------------------
// Restarts: one row

const CLIENTS = 40;

interface RestartRow {
  balancer: string;
  backends: string;
  run: number;
  requests: number;
  outcomes: Record<string, number>;
  p50: number;
  p99: number;
  seconds: number;
}

/** On an interrupt: the backends killed, the run's directory removed. */
function killAndRemove(backends: Backend[], dir: string): void {
  for (const b of backends) b.server?.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}

async function restartRow(balancerName: 'nginx' | 'haproxy', kind: Kind, run: number): Promise<RestartRow | undefined> {
  const dir = mkdtempSync(join(tmpdir(), `rxjs-listen-${balancerName}-`));
  let t0 = Date.now();
  const clock = (): number => Date.now() - t0;
  const backends: Backend[] = [];
  let balancer: Balancer | undefined;
  const forget = onInterrupt(() => killAndRemove(backends, dir));
  try {
    for (const name of ['a', 'b']) {
      const agentPort = kind.demo ? await freePort() : undefined; // fixed: a restarted backend answers on the same one
      const backend = new Backend(name, kind.script, kind.flags, await freePort(), agentPort, clock);
      await backend.start();
      backends.push(backend);
    }
    const port = await freePort();
    if (balancerName === 'nginx') balancer = await startNginx(dir, port, backends.map((b) => b.port));
    else {
      const servers = backends.map((b) => ({ name: b.name, port: b.port, ...(kind.agentCheck ? { agentPort: b.agentPort! } : {}) }));
      balancer = await startHaproxy(dir, port, servers, 200);
      await waitUp(dir);
      (balancer as Haproxy).log.length = 0; // startHaproxy's connect probe (a 400 CR)
    }

    t0 = Date.now();
    const load = postLoad(port, CLIENTS);
    await sleep(1000);
    const restarts: Restart[] = [];
    for (const backend of [backends[0]!, backends[1]!, backends[0]!, backends[1]!]) {
      restarts.push(await restart(backend, clock));
      await sleep(1000); // for the balancer to see the new process (HAProxy's agent: 200 ms)
    }
    const minMs = (options.seconds ?? 14) * 1000;
    if (clock() < minMs) await sleep(minMs - clock());
    const results = await load.stop();
    const seconds = clock() / 1000;

    const outcomes = tally(results.map((r) => r.outcome));
    const ms = results.map((r) => r.ms);
    const row: RestartRow = { balancer: balancerName, backends: kind.kind, run, requests: results.length, outcomes, p50: round(median(ms)), p99: round(percentile(ms, 99)), seconds: round(seconds) };
    const details: Record<string, unknown> = {
      ...row,
      restarts: restarts.map((r) => ({ ...r, exitAfterMs: r.exit - r.sigterm, ...(r.drainEnd === undefined ? {} : { drainMs: r.drainEnd - r.sigterm }) })),
    };
    if (balancer.name === 'nginx') Object.assign(details, { nginxErrors: nginxErrors(dir, backends), nginxUnusual: nginxUnusual(dir, t0, backends, restarts) });
    else {
      const haproxy = balancer as Haproxy;
      const stat = await showStat(dir);
      Object.assign(details, {
        haproxyUnusual: haproxyUnusual(haproxy.log, t0, restarts),
        haproxyRetries: Object.fromEntries(stat.map((r) => [r.svname, { retries: Number(r.wretr), redispatches: Number(r.wredis), status: r.status }])),
      });
    }
    console.log(JSON.stringify(details));
    return row;
  } catch (error) {
    console.log(JSON.stringify({ balancer: balancerName, backends: kind.kind, run, error: (error as Error).message.split('\n').slice(0, 3).join(' ') }));
    return undefined;
  } finally {
    if (balancer) await balancer.stop();
    for (const b of backends) await b.stop();
    rmSync(dir, { recursive: true, force: true });
    forget();
  }
}

function restartTable(rows: RestartRow[]): void {
  console.log('\n| balancer | backends | run | requests | 200 | 502 | 503 | other status | errors | p50 / p99 ms | s |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const statuses = Object.entries(r.outcomes).filter(([o]) => /^\d+$/.test(o));
    const other = statuses.filter(([o]) => !['200', '502', '503'].includes(o));
    const errors = Object.entries(r.outcomes).filter(([o]) => !/^\d+$/.test(o));
    const list = (entries: [string, number][]): string => (entries.length === 0 ? '0' : entries.map(([o, n]) => `${n} (${o})`).join(', '));
    console.log(
      `| ${r.balancer} | ${r.backends} | ${r.run} | ${r.requests} | ${r.outcomes['200'] ?? 0} | ${r.outcomes['502'] ?? 0} | ${r.outcomes['503'] ?? 0} | ${list(other)} | ${list(errors)} | ${r.p50} / ${r.p99} | ${r.seconds} |`,
    );
  }
}

async function restartsPart(): Promise<void> {
  console.log(`\n## restarts: ${CLIENTS} clients POST through the balancer (keep-alive, nothing retried, 5 s deadline), each backend restarted twice (a, b, a, b), answers after 20 ms`);
  console.log(`nginx: ${[...NGINX_UPSTREAM(['PORT_A', 'PORT_B'] as unknown as number[]), ...NGINX_LOCATION].join(' ')}`);
  console.log(`haproxy defaults: ${HAPROXY_DEFAULTS.map((l) => l.replace(/\s+#.*$/, '')).join('; ')}; balance roundrobin`);
  console.log(`haproxy servers: ${haproxyServerLine({ name: 'a', port: 0, agentPort: 0 }, 200).replace(/127\.0\.0\.1:0/, '127.0.0.1:PORT').replace(/agent-port 0/, 'agent-port FIXED_PORT')} (no agent-check: the plain backends and the "no agent-check" row)`);
  const rows: RestartRow[] = [];
  for (let run = 1; run <= options.runs; run++) {
    for (const balancer of ['nginx', 'haproxy'] as const) {
      for (const kind of KINDS.filter((k) => k.balancers.includes(balancer))) {
        const row = await restartRow(balancer, kind, run);
        if (row) rows.push(row);
      }
    }
  }
  restartTable(rows);
}

// ---------------------------------------------------------------------------------------------
// Overload

// New GETs per second: an even split gives the busy backend 100/s, all of its CPU (see the header).
const OVERLOAD_RATE = 200;
// The busy one pauses on its event loop's lag (and learns a limit from its service time): its
// connection limit alone never binds, since a CPU-bound Node process takes one connection per
// loop turn and the rest wait in the kernel's accept queue, unseen (measured: --limit 20 --queue
// 0, live 4-6 of 20 while ~58 waited there). The fast one runs the defaults.
const OVERLOAD_BACKENDS: [string, string[]][] = [
  ['busy', ['--busy-ms', '10', '--max-lag-ms', '50']],
  ['fast', ['--busy-ms', '1']],
];
const GET_DEADLINE_MS = 5000;
const GET = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';

interface Attempt {
  outcome: string; // '200', '502', '503', 'status N', 'ECONNRESET', 'refused', 'closed without a response', 'timeout'
  ms: number; // from connect() to the last byte, or to the error
  at: number; // when it started, ms from the start of the load
  servedBy?: string; // X-Served-By
}

/**
 * Attempts started at `rate` per second for `ms`, whatever the earlier ones became (an open
 * load: the clients of a service arrive at their own pace, not after the previous answer), one
 * every 1/rate s; resolves with every attempt once the last has ended.
 */
async function openLoad(port: number, rate: number, ms: number): Promise<Attempt[]> {
  const attempts: Promise<Attempt>[] = [];
  const total = Math.round((rate * ms) / 1000);
  const t0 = performance.now();
  while (attempts.length < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
    while (attempts.length < due) attempts.push(getAttempt(port, t0));
    await sleep(Math.max(1, (attempts.length * 1000) / rate - (performance.now() - t0)));
  }
  return Promise.all(attempts);
}

function getAttempt(port: number, t0: number): Promise<Attempt> {
  const start = performance.now();
  return new Promise((resolve) => {
    let text = '';
    let socket: Socket | undefined = undefined;
    const end = (outcome: string): void => {
      clearTimeout(timer);
      socket?.destroy();
      const servedBy = /\r\nx-served-by: (\d+)/i.exec(text)?.[1];
      resolve({ outcome, ms: performance.now() - start, at: start - t0, ...(servedBy === undefined ? {} : { servedBy }) });
      socket = undefined; // the first call counts
    };
    const fromResponse = (): void => {
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      end(status === undefined ? 'closed without a response' : ['200', '502', '503'].includes(status) ? status : `status ${status}`);
    };
    const timer = setTimeout(() => end('timeout'), GET_DEADLINE_MS);
    socket = connect(port, HOST);
    socket.once('connect', () => socket?.write(GET));
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.once('end', () => socket && fromResponse());
    socket.once('error', (error: NodeJS.ErrnoException) => socket && end(error.code === 'ECONNREFUSED' ? 'refused' : (error.code ?? 'error')));
    socket.once('close', () => socket && fromResponse());
  });
}

/** Connections waiting in the kernel's accept queue of the listener on `port` (Recv-Q in `ss -ltn`); undefined while it does not listen. */
async function acceptQueue(port: number): Promise<number | undefined> {
  const child = spawn('ss', ['-ltnH', `sport = :${port}`], { stdio: ['ignore', 'pipe', 'ignore'] });
  let text = '';
  child.stdout!.on('data', (c: Buffer) => (text += c.toString()));
  await once(child, 'exit');
  const queued = /^\S+\s+(\d+)/.exec(text.trim())?.[1];
  return queued === undefined ? undefined : Number(queued);
}

interface OverloadRow {
  case: string;
  attempts: number;
  outcomes: Record<string, number>;
  p50: number;
  p99: number;
  max: number;
  busyShare: number;
  busyAgent: Record<string, number>;
  busyStatus: Record<string, number>;
  fastStatus: Record<string, number>;
  retries: string;
}

async function overloadRow(withAgent: boolean, extraFlags: string[]): Promise<OverloadRow | undefined> {
  const name = (withAgent ? 'with agent-check' : 'without agent-check') + (extraFlags.length === 0 ? '' : `, backends ${extraFlags.join(' ')}`);
  const dir = mkdtempSync(join(tmpdir(), 'rxjs-listen-haproxy-'));
  const backends: Backend[] = [];
  let balancer: Haproxy | undefined;
  const forget = onInterrupt(() => killAndRemove(backends, dir));
  try {
    const clock = (): number => 0;
    for (const [backendName, flags] of OVERLOAD_BACKENDS) {
      const backend = new Backend(backendName, 'build/demo/server.js', [...flags, ...extraFlags], await freePort(), await freePort(), clock);
      await backend.start();
      backends.push(backend);
    }
    const [busy, fast] = backends as [Backend, Backend];
    const port = await freePort();
    const servers = backends.map((b) => ({ name: b.name, port: b.port, ...(withAgent ? { agentPort: b.agentPort! } : {}) }));
    balancer = await startHaproxy(dir, port, servers, 200);
    await waitUp(dir);
    balancer.log.length = 0; // startHaproxy's connect probe (a 400 CR)

    // What the busy backend's agent answers, and how HAProxy sees both servers, every 100 ms.
    const agentReplies: string[] = [];
    const weights: number[] = []; // the N of each `ready up N%`
    const backlog: number[] = []; // the busy backend's accept queue (Recv-Q of its listening socket)
    const statuses: Record<string, string[]> = { busy: [], fast: [] };
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const [reply, stat, queued] = await Promise.all([askAgent(busy.agentPort!), showStat(dir).catch(() => []), acceptQueue(busy.port)]);
        if (queued !== undefined) backlog.push(queued);
        agentReplies.push(reply.startsWith('ready up') ? 'ready up' : reply);
        const weight = /^ready up (\d+)%/.exec(reply)?.[1];
        if (weight !== undefined) weights.push(Number(weight));
        for (const r of stat) statuses[r.svname!]?.push(r.status!);
        await sleep(100);
      }
    })();

    const results = await openLoad(port, options.rate ?? OVERLOAD_RATE, (options.seconds ?? 10) * 1000);
    probing = false;
    await probe;

    const stat = await showStat(dir);
    const ms = results.map((r) => r.ms);
    const served = results.filter((r) => r.outcome === '200');
    const servedBy = (b: Backend): number[] => served.filter((r) => r.servedBy === String(b.server.pid)).map((r) => r.ms);
    const row: OverloadRow = {
      case: name,
      attempts: results.length,
      outcomes: tally(results.map((r) => r.outcome)),
      p50: round(median(ms)),
      p99: round(percentile(ms, 99)),
      max: round(percentile(ms, 100)),
      busyShare: round(served.filter((r) => r.servedBy === String(busy.server.pid)).length / Math.max(1, served.length), 3),
      busyAgent: tally(agentReplies),
      busyStatus: tally(statuses.busy!),
      fastStatus: tally(statuses.fast!),
      retries: stat.map((r) => `${r.svname} ${r.wretr}/${r.wredis}`).join(', '),
    };
    console.log(
      JSON.stringify({
        ...row,
        busyWeight: weights.length === 0 ? {} : { p10: percentile(weights, 10), median: median(weights), p90: percentile(weights, 90) },
        busyAcceptQueue: { median: median(backlog), max: Math.max(...backlog), samples: backlog.length },
        servedByFast: served.filter((r) => r.servedBy === String(fast.server.pid)).length,
        // Who served the slowest: the p99 of each backend's 200s, and the slowest 1% of all attempts by server (or outcome).
        p99ByServer: { busy: round(percentile(servedBy(busy), 99)), fast: round(percentile(servedBy(fast), 99)) },
        slowestPercent: tally(
          [...results]
            .sort((a, b) => b.ms - a.ms)
            .slice(0, Math.ceil(results.length / 100))
            .map((r) => (r.servedBy === undefined ? r.outcome : r.servedBy === String(busy.server.pid) ? 'busy' : 'fast')),
        ),
        // Attempts over 500 ms or not served, by the second they started in: when the trouble was.
        slowOrFailedBySecond: tally(results.filter((r) => r.ms > 500 || r.outcome !== '200').map((r) => `${Math.floor(r.at / 1000)} s: ${r.outcome}${r.ms > 500 ? ' > 500 ms' : ''}`)),
        haproxyUnusual: haproxyUnusual(balancer.log, 0, []),
      }),
    );
    return row;
  } catch (error) {
    console.log(JSON.stringify({ case: name, error: (error as Error).message.split('\n').slice(0, 3).join(' ') }));
    return undefined;
  } finally {
    if (balancer) await balancer.stop();
    for (const b of backends) await b.stop();
    rmSync(dir, { recursive: true, force: true });
    forget();
  }
}

async function overloadPart(): Promise<void> {
  console.log(
    `\n## overload: HAProxy, two demo backends, ${OVERLOAD_BACKENDS.map(([n, f]) => `${n} ${f.join(' ')}`).join(' and ')} (each with a fixed --agent-port); ${options.rate ?? OVERLOAD_RATE} attempts/s GET, ` +
      `a new connection each, ${options.seconds ?? 10} s, deadline ${GET_DEADLINE_MS} ms; agent-inter 200ms`,
  );
  const rows: OverloadRow[] = [];
  // The third row: a pause announced first (the agent says drain) and taken 2 agent-inter later,
  // so that HAProxy moves traffic away before the listener closes and resets its queue.
  // With the agent, the backends weigh their answers by capacity too (--agent-full-weight-at
  // 1000, about what the fast one finishes per second of running): without it the busy one,
  // ten times slower, said the same as the fast one whenever it had room (section 16).
  const weighed = ['--agent-full-weight-at', '1000'];
  for (const [withAgent, extraFlags] of [[false, []], [true, weighed], [true, [...weighed, '--drain-before-pause-ms', '400']]] as [boolean, string[]][]) {
    const row = await overloadRow(withAgent, extraFlags);
    if (row) rows.push(row);
  }
  const tallyText = (t: Record<string, number>): string =>
    Object.entries(t)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
  console.log('\n| HAProxy server lines | attempts | 200 | 502 | 503 | other | errors | ms p50 / p99 / max | 200s by the busy one | busy agent says (every 100 ms) | HAProxy: busy / fast (every 100 ms) | retries/redispatches |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const other = Object.entries(r.outcomes).filter(([o]) => o.startsWith('status '));
    const errors = Object.entries(r.outcomes).filter(([o]) => !/^(\d+|status \d+)$/.test(o));
    const list = (entries: [string, number][]): string => (entries.length === 0 ? '0' : entries.map(([o, n]) => `${n} (${o})`).join(', '));
    console.log(
      `| ${r.case} | ${r.attempts} | ${r.outcomes['200'] ?? 0} | ${r.outcomes['502'] ?? 0} | ${r.outcomes['503'] ?? 0} | ${list(other)} | ${list(errors)} | ${r.p50} / ${r.p99} / ${r.max} | ${(r.busyShare * 100).toFixed(1)}% | ${tallyText(r.busyAgent)} | ${tallyText(r.busyStatus)} / ${tallyText(r.fastStatus)} | ${r.retries} |`,
    );
  }
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  requireCommand('nginx', ['-v']);
  requireCommand('haproxy', ['-v']);
  console.log(`# balancers: ${machine()}; started ${new Date().toISOString()}`);
  console.log(`# ${(await version('nginx', ['-v'])).trim()}; ${(await version('haproxy', ['-v'])).split('\n')[0]}`);
  if (options.only !== 'overload') await restartsPart();
  if (options.only !== 'restarts') await overloadPart();
}

async function version(command: string, args: string[]): Promise<string> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (text += c.toString()));
  await once(child, 'exit');
  return text;
}

void main();
