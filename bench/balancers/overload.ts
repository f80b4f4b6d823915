/*
 * overload: two demo backends behind HAProxy, one CPU-bound, under an open load of GETs,
 * without and with agent-check (see bench/balancers.ts).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpStatus } from '../support/client';
import { freePort, median, onInterrupt, percentile, round, sleep, tally } from '../support/run';
import { Backend, HOST, haproxyUnusual, killAndRemove, showStat, startHaproxyUp, tearDown, type BalancerOptions, type Haproxy } from './support';

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
      const status = httpStatus(text);
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

async function overloadRow(withAgent: boolean, extraFlags: string[], rate: number, seconds: number): Promise<OverloadRow | undefined> {
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
    balancer = await startHaproxyUp(dir, port, servers, 200);

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

    const results = await openLoad(port, rate, seconds * 1000);
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
    await tearDown(balancer, backends, dir);
    forget();
  }
}

export async function overloadPart(options: BalancerOptions): Promise<void> {
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
  for (const [withAgent, extraFlags] of [[false, []], [true, weighed], [true, [...weighed, '--announce-pause-ms', '400']]] as [boolean, string[]][]) {
    const row = await overloadRow(withAgent, extraFlags, options.rate ?? OVERLOAD_RATE, options.seconds ?? 10);
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
