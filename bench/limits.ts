/*
 * What ordinary clients see at the connection limit, measured from the client. Every request
 * is timed from its start (connect included) to its last byte, every outcome is counted
 * (200, 503, another status, ECONNRESET, ECONNREFUSED, UND_ERR_SOCKET, timeout, ...) and
 * nothing is retried. Each scenario runs against the demo with `--queue-size 0` (the listener
 * closes at the limit) and with its default queue, side by side in one run.
 *
 *   npm run bench:limits [-- --demo build/demo/server.js]
 *
 * --demo: another build of the demo (a path from the repository root), e.g. an older commit's.
 * --only: the scenarios to run, by letter (e.g. `--only ab`).
 */
import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import { parseFlags } from './support/flags';
import { cpuSeconds, machine, median, startServer, stopServer, tally, tcpCounters, within } from './support/run';

const options = parseFlags('limits', {
  demo: { kind: 'string', default: 'build/demo/server.js' },
  only: { kind: 'string', pattern: /^[abcd]+$/, rule: 'letters of the scenarios a to d (e.g. ab)' },
}).values;
const demo = options.demo;

interface Target {
  server: string;
  script: string; // from the repository root
  flags: string[];
}

const variants: Target[] = [
  { server: 'demo --queue-size 0 (listener closes at the limit)', script: demo, flags: ['--queue-size', '0'] },
  { server: 'demo, default queue', script: demo, flags: [] },
];
// For the bursts: plain Node without a limit answers every request after one hold, so its wall
// time is one round plus what this machine's client and server spend on the connections.
const floor: Target = { server: 'plain Node, no limit (the floor: one round)', script: 'build/bench/servers/plain.js', flags: [] };

const BODY = JSON.stringify({ hello: 'limits' });
// A request not answered by then counts as a timeout. Not only slow servers: fetch (undici 6.24,
// Node 20.20) waits for headers (300 s by default) on a connection the server accepted and closed
// before the request was written, about half the time (measured); without a deadline that is a hang.
const DEADLINE_MS = 10_000;

interface Outcome {
  outcome: string; // '200', '503', 'status 404', 'ECONNRESET', 'timeout', ...
  ms: number; // from the start of the request (connect included) to the last byte, or to the error
  live?: number; // the x-live header: slots in use when the server answered
}

const statusOutcome = (status: number): string => (status === 200 || status === 503 ? String(status) : `status ${status}`);

/** The error's code, looking through fetch's `TypeError('fetch failed', { cause })`. */
function errorOutcome(error: unknown): string {
  const { name, code, cause, message } = error as { name?: string; code?: string; cause?: { name?: string; code?: unknown }; message?: string };
  const found = typeof cause?.code === 'string' ? cause.code : code;
  // Our deadline (a DOMException named TimeoutError), or undici's own connect/headers/body timeouts.
  if (name === 'TimeoutError' || cause?.name === 'TimeoutError' || found?.endsWith('_TIMEOUT')) return 'timeout';
  return found ?? `other: ${message}`;
}

const liveHeader = (value: string | string[] | null | undefined): number | undefined =>
  typeof value === 'string' ? Number(value) : undefined;

/**
 * One POST with the global fetch (undici), as a browser-like client makes it: its own connection,
 * no retry (POST is not idempotent). undici keeps the connection open after the answer (until
 * the server's keep-alive hint less 2 s), so a server that counts idle connections against its
 * limit must reclaim them for the requests still waiting.
 */
async function fetchPost(port: number): Promise<Outcome> {
  const start = performance.now();
  try {
    const response = await fetch(`http://127.0.0.1:${port}/burst`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: BODY,
      signal: AbortSignal.timeout(DEADLINE_MS),
    });
    await response.arrayBuffer(); // the last byte
    return { outcome: statusOutcome(response.status), ms: performance.now() - start, live: liveHeader(response.headers.get('x-live')) };
  } catch (error) {
    return { outcome: errorOutcome(error), ms: performance.now() - start };
  }
}

interface Closed {
  how: string; // 'orderly' (FIN received, closed without error), 'closed by the client', or the error code (a reset)
  reset: boolean;
  at: number;
}

interface HttpOutcome extends Outcome {
  endedAt: number; // performance.now() at the last byte (or the error)
  closed: Promise<Closed>; // when and how the connection ended, watched from its first moment
}

/** How a client socket ends: watched from the 'socket' event on, so that no close is missed. */
function watchClose(socket: Socket): Promise<Closed> {
  let sawEnd = false;
  let errorCode: string | undefined;
  socket.on('end', () => (sawEnd = true));
  socket.on('error', (error: NodeJS.ErrnoException) => (errorCode ??= error.code ?? error.message));
  return new Promise((resolve) =>
    socket.once('close', () =>
      resolve({ how: errorCode ?? (sawEnd ? 'orderly' : 'closed by the client'), reset: errorCode !== undefined, at: performance.now() }),
    ),
  );
}

/** One POST through node:http on `agent` (keep-alive clients: the socket stays open after the answer). */
function httpPost(port: number, agent: Agent, deadlineMs = DEADLINE_MS): Promise<HttpOutcome> {
  const start = performance.now();
  return new Promise((resolve) => {
    let closed: Promise<Closed> = new Promise(() => undefined); // never, if no socket was ever assigned
    const settle = (outcome: string, live?: number): void => {
      clearTimeout(timer);
      const endedAt = performance.now();
      resolve({ outcome, ms: endedAt - start, live, endedAt, closed });
    };
    const req = request({ host: '127.0.0.1', port, path: '/keep-alive', method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('error', (error) => settle(errorOutcome(error))); // the connection ended mid-answer
      res.on('end', () => settle(statusOutcome(res.statusCode!), liveHeader(res.headers['x-live'])));
    });
    req.on('socket', (socket) => (closed = watchClose(socket)));
    req.on('error', (error) => settle(errorOutcome(error)));
    const timer = setTimeout(() => req.destroy(Object.assign(new Error('no answer in time'), { name: 'TimeoutError' })), deadlineMs);
    req.end(BODY);
  });
}

/** The highest x-live seen, and whether it stayed within the limit (null: the server sent none). */
function liveFigures(results: Outcome[], limit: number): { maxLive: number | null; withinLimit: boolean | null } {
  const seen = results.flatMap((r) => (r.live === undefined ? [] : [r.live]));
  if (seen.length === 0) return { maxLive: null, withinLimit: null };
  const maxLive = Math.max(...seen);
  return { maxLive, withinLimit: maxLive <= limit };
}

const round = (ms: number): number => Math.round(ms);

/** a, b: `count` simultaneous fetch POSTs against `--limit limit --hold-ms holdMs`. */
async function burst(port: number, count: number, limit: number, holdMs: number) {
  const start = performance.now();
  const results = await Promise.all(Array.from({ length: count }, () => fetchPost(port)));
  const wallMs = performance.now() - start;
  const idealMs = Math.ceil(count / limit) * holdMs; // full rounds of `limit` held responses
  const ok = results.filter((r) => r.outcome === '200').length;
  const { maxLive, withinLimit } = liveFigures(results, limit);
  return {
    outcomes: tally(results.map((r) => r.outcome)),
    wallMs: round(wallMs),
    idealMs,
    ratio: Number((wallMs / idealMs).toFixed(2)),
    latencyMs: { median: round(median(results.map((r) => r.ms))), max: round(Math.max(...results.map((r) => r.ms))) },
    maxLive,
    met: { [`${count}/${count} 200`]: ok === count, 'wall <= 3x ideal': wallMs <= 3 * idealMs, [`x-live <= ${limit}`]: withinLimit },
  };
}

/** c: five keep-alive clients hold every slot with idle connections; does a sixth get in, and how do the idle ones end? */
async function keepAliveReclaim(port: number) {
  const agents = Array.from({ length: 6 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
  try {
    const idle = await Promise.all(agents.slice(0, 5).map((agent) => httpPost(port, agent)));
    const sixth = await httpPost(port, agents[5]!, 5000);
    // The server needs to close one idle connection for the sixth; give the rest a bounded while.
    const open = { how: 'still open', reset: false, at: NaN };
    const ends = await Promise.all(idle.map((r) => within(r.closed, Math.max(0, sixth.endedAt + 1000 - performance.now()), open)));
    const endings = tally(ends.map((e) => e.how));
    return {
      idleClients: tally(idle.map((r) => r.outcome)),
      sixth: { outcome: sixth.outcome, ms: round(sixth.ms) },
      idleSocketsWithin1sAfterSixth: endings,
      ...liveFigures([...idle, sixth], 5),
      met: {
        'sixth 200 within 250 ms': sixth.outcome === '200' && sixth.ms <= 250,
        'no idle socket reset': ends.every((e) => !e.reset),
      },
    };
  } finally {
    for (const agent of agents) agent.destroy();
  }
}

/** d: a keep-alive client answered once then silent: how long until the server closes its connection? */
async function idleClose(port: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const answer = await httpPost(port, agent);
    const closed = await within(answer.closed, 5000, { how: 'still open after 5 s', reset: false, at: NaN });
    const closedAfterMs = round(closed.at - answer.endedAt);
    return {
      answer: answer.outcome,
      closed: closed.how,
      closedAfterMs: Number.isNaN(closedAfterMs) ? null : closedAfterMs,
      met: { 'closed within 1250 ms': closed.how === 'orderly' && closedAfterMs <= 1250 },
    };
  } finally {
    agent.destroy();
  }
}

const scenarios = [
  { scenario: 'a. burst: 20 fetch POSTs, --limit 5 --hold-ms 300', flags: ['--limit', '5', '--hold-ms', '300'], servers: [...variants, floor], run: (port: number) => burst(port, 20, 5, 300) },
  { scenario: 'b. burst: 600 fetch POSTs, --limit 200 --hold-ms 300', flags: ['--limit', '200', '--hold-ms', '300'], servers: [...variants, floor], run: (port: number) => burst(port, 600, 200, 300) },
  { scenario: 'c. keep-alive reclaim, --limit 5 --keep-alive-ms 72000', flags: ['--limit', '5', '--keep-alive-ms', '72000'], servers: variants, run: keepAliveReclaim },
  { scenario: 'd. idle timeout, --silence-ms 1000 --keep-alive-ms 30000', flags: ['--silence-ms', '1000', '--keep-alive-ms', '30000'], servers: variants, run: idleClose },
];

/**
 * SYNs the kernel dropped because an accept queue was full (the client resends after 1 s, then
 * 3 s...: a wait that is the kernel's, not the server's), and SYNs resent. System-wide counters.
 */
function kernelDelta(before: Record<string, number>, after: Record<string, number>) {
  const delta = (key: string): number => (after[key] ?? 0) - (before[key] ?? 0);
  return { listenOverflows: delta('ListenOverflows'), synRetransmits: delta('TCPSynRetrans') };
}

/** One scenario against one server, started fresh; a server that does not start is reported, not fatal. */
async function measure(scenario: (typeof scenarios)[number], variant: Target): Promise<object> {
  let server;
  try {
    server = await startServer(variant.script, ['--port', '0', ...scenario.flags, ...variant.flags]);
  } catch (error) {
    return { scenario: scenario.scenario, server: variant.server, error: (error as Error).message.split('\n').slice(0, 2).join(' ') };
  }
  try {
    const [kernel0, client0, server0] = [tcpCounters(), process.cpuUsage(), cpuSeconds(server.pid)];
    const figures = await scenario.run(server.port);
    // CPU time: with 600 connections on 2 cores, the client's share shows how much of the wall time is the client's own.
    const clientCpu = process.cpuUsage(client0);
    const cpuMs = { client: round((clientCpu.user + clientCpu.system) / 1000), server: round((cpuSeconds(server.pid) - server0) * 1000) };
    return { scenario: scenario.scenario, server: variant.server, ...figures, cpuMs, kernel: kernelDelta(kernel0, tcpCounters()) };
  } finally {
    await stopServer(server);
  }
}

async function main(): Promise<void> {
  console.log(`# limits: ${demo}; ${machine()}`);
  for (const scenario of scenarios.filter((s) => options.only === undefined || options.only.includes(s.scenario[0]!))) {
    for (const variant of scenario.servers) console.log(JSON.stringify(await measure(scenario, variant)));
  }
}

void main();
