/*
 * restarts: rolling restarts under POST load through nginx and HAProxy (see bench/balancers.ts).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { upstreamError } from '../support/nginx';
import { exited, freePort, median, onInterrupt, percentile, round, sleep, tally } from '../support/run';
import {
  Backend,
  HAPROXY_DEFAULTS,
  HOST,
  NGINX_LOCATION,
  NGINX_UPSTREAM,
  haproxyServerLine,
  haproxyUnusual,
  killAndRemove,
  phase,
  showStat,
  startHaproxyUp,
  startNginxBalancer,
  tearDown,
  type BalancerOptions,
  type Balancer,
  type Haproxy,
  type Restart,
} from './support';

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
// The POST load

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
// What nginx logged

/** nginx's reasons for its upstream errors, by backend: "b: upstream prematurely closed connection while reading response header from upstream". */
function nginxErrors(dir: string, backends: Backend[]): Record<string, number> {
  const name = (port: string | undefined): string => backends.find((b) => String(b.port) === port)?.name ?? 'no upstream';
  const lines = readFileSync(join(dir, 'error.log'), 'utf8').split('\n');
  return tally(
    lines.flatMap((line) => {
      const error = upstreamError(line);
      if (!error) return line.includes('[error]') || line.includes('[crit]') ? [line.replace(/^.*?\[/, '[').slice(0, 120)] : [];
      return `${name(error.port)}: ${error.reason}`;
    }),
  );
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

// ---------------------------------------------------------------------------------------------
// One row

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

async function restartRow(balancerName: 'nginx' | 'haproxy', kind: Kind, run: number, minSeconds: number): Promise<RestartRow | undefined> {
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
    if (balancerName === 'nginx') balancer = await startNginxBalancer(dir, port, backends.map((b) => b.port));
    else {
      const servers = backends.map((b) => ({ name: b.name, port: b.port, ...(kind.agentCheck ? { agentPort: b.agentPort! } : {}) }));
      balancer = await startHaproxyUp(dir, port, servers, 200);
    }

    t0 = Date.now();
    const load = postLoad(port, CLIENTS);
    await sleep(1000);
    const restarts: Restart[] = [];
    for (const backend of [backends[0]!, backends[1]!, backends[0]!, backends[1]!]) {
      restarts.push(await restart(backend, clock));
      await sleep(1000); // for the balancer to see the new process (HAProxy's agent: 200 ms)
    }
    const minMs = minSeconds * 1000;
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
    await tearDown(balancer, backends, dir);
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

export async function restartsPart(options: BalancerOptions): Promise<void> {
  console.log(`\n## restarts: ${CLIENTS} clients POST through the balancer (keep-alive, nothing retried, 5 s deadline), each backend restarted twice (a, b, a, b), answers after 20 ms`);
  console.log(`nginx: ${[...NGINX_UPSTREAM(['PORT_A', 'PORT_B'] as unknown as number[]), ...NGINX_LOCATION].join(' ')}`);
  console.log(`haproxy defaults: ${HAPROXY_DEFAULTS.map((l) => l.replace(/\s+#.*$/, '')).join('; ')}; balance roundrobin`);
  console.log(`haproxy servers: ${haproxyServerLine({ name: 'a', port: 0, agentPort: 0 }, 200).replace(/127\.0\.0\.1:0/, '127.0.0.1:PORT').replace(/agent-port 0/, 'agent-port FIXED_PORT')} (no agent-check: the plain backends and the "no agent-check" row)`);
  const rows: RestartRow[] = [];
  for (let run = 1; run <= options.runs; run++) {
    for (const balancer of ['nginx', 'haproxy'] as const) {
      for (const kind of KINDS.filter((k) => k.balancers.includes(balancer))) {
        const row = await restartRow(balancer, kind, run, options.seconds ?? 14);
        if (row) rows.push(row);
      }
    }
  }
  restartTable(rows);
}
