/*
 * Overload as clients meet it, open loop. Requests are due at fixed times, evenly spaced at the
 * offered rate, whatever the server does (no retries, no waiting for earlier answers), and each
 * one's time runs from when it was DUE to its response's last byte: a wait for a connection, in
 * the kernel's accept queue or for a SYN retransmit all counts (no coordinated omission). No
 * complete response 3 s after it was due: a timeout. Goodput: requests served (200) within 1 s
 * of due, and before the row's end (so that no server is credited for draining its backlog after
 * it), per second of the row.
 *
 *   npm run bench:open [-- --servers plain,fastify,demo --mode new|keepalive|both --capacity N
 *     --multiples 0.5,1,1.25,2,3,5,10 --seconds 8 --connections 100 --addresses 4 --busy-ms 5
 *     --demo-flags "--max-lag-ms 100" --json FILE --svg docs/overload.svg]
 *   node build/bench/openLoop.js --client --mode new --rate R --seconds S --port P --server-pid PID
 *     [--trace FILE]   (one row against a server started by hand)
 *
 * Servers, every one burning --busy-ms of CPU per response, pinned to core 0 and started afresh
 * for every row (so no row inherits another's backlog, pause or learned limit): `plain` Node
 * http (bench/servers/plain-busy.ts), `fastify` with @fastify/under-pressure --max-lag-ms 100
 * (bench/servers/fastify-busy.ts) and the `demo` (demo/server.ts, `--limit 1000` then
 * --demo-flags). Modes: `new`, a fresh TCP connection per request (`Connection: close`);
 * `keepalive`, --connections persistent connections opened before the row, requests assigned
 * round-robin, one at a time per connection (a request due while its connection is busy waits
 * in the client, its clock running); a connection the server closes is reopened for its next
 * request. --capacity: plain Node's goodput in `new` mode; without it, measured first (120/s
 * up by 20/s, 3 s each, until goodput stops rising). Offered rates: capacity x --multiples.
 *
 * The client is this script again (--client) in a child on core 1. Its CPU and the server's
 * (shares of a core) are over the row's dispatch window; a client above half a core makes the
 * row INVALID (its lateness would be blamed on the server). --addresses N: connections come
 * from 127.0.0.2 .. 127.0.0.(1+N), to spread TIME_WAIT over more ephemeral ports; 0: no bind.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, Socket, type TcpSocketConnectOpts } from 'node:net';
import { dirname } from 'node:path';
import { connectionError, httpStatus } from './support/client';
import { parseFlags, words } from './support/flags';
import { cpuSecondsReader, hasExited, lastJsonLine, machine, median, onInterrupt, percentile, runPinned, sleep, startServer, stopServer, tally, type Server } from './support/run';

const DEADLINE_MS = 3000;
const GOOD_MS = 1000;
const SETTLE_MS = 1000;
const WARM_UP = 50; // uncounted requests before each row: a fresh server's first ones take ~40 ms (lazy compilation)
const CLOSE_REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', 'latin1');
const KEEPALIVE_REQUEST = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 'latin1');
const SERVERS = ['plain', 'fastify', 'demo'] as const;
type ServerName = (typeof SERVERS)[number];
type Mode = 'new' | 'keepalive';

// ---- arguments --------------------------------------------------------------------------------
const flags = parseFlags('openLoop', {
  servers: { kind: 'list', choices: SERVERS, default: SERVERS.join(',') },
  mode: { kind: 'list', choices: ['new', 'keepalive', 'both'], default: 'both' },
  capacity: { kind: 'number', min: 1, max: 100_000 }, // without it: measured
  multiples: { kind: 'list', of: 'number', above: 0, default: '0.5,1,1.25,2,3,5,10' },
  seconds: { kind: 'integer', min: 1, max: 600, default: 8 },
  connections: { kind: 'integer', min: 1, max: 10_000, default: 100 },
  addresses: { kind: 'integer', min: 0, max: 250, default: 4 },
  'busy-ms': { kind: 'integer', min: 0, max: 1000, default: 5 },
  'demo-flags': { kind: 'string', default: '--max-lag-ms 100' },
  json: { kind: 'string' },
  svg: { kind: 'string', default: 'docs/overload.svg' },
  // The child's own (--client): one row, its --mode, --rate and --seconds, against this server.
  client: { kind: 'boolean' },
  port: { kind: 'integer', min: 1, max: 65535 },
  'server-pid': { kind: 'integer', min: 1 },
  rate: { kind: 'number', min: 0.1, max: 100_000 },
  // With --client: every request's due time (ms after the first's), ms to its outcome, and the outcome, a line each.
  trace: { kind: 'string' },
});
const options = flags.values;
const { seconds, connections, addresses: addressCount, 'busy-ms': busyMs } = options;
// 0: the kernel picks 127.0.0.1 and the port at connect(), as any client would.
const addresses = Array.from({ length: addressCount }, (_, i) => `127.0.0.${2 + i}`);

// ---- the client: an HTTP/1.1 response parser on each socket, one scheduler for all ------------
const enum Phase { Head, Length, Chunks, Trailers, UntilEof, Done }
const HEAD_END = Buffer.from('\r\n\r\n');

/** A client connection, its request in flight, and an incremental parser of the response: only
 *  the head is made text; body bytes are counted, never copied. */
class Conn extends Socket {
  request = -1; // index of the request bound to this connection, -1: none
  status = 0;
  closeAfter = false; // the response said `Connection: close`
  phase = Phase.Head;
  private head = '';
  private left = 0; // body bytes, or chunk bytes plus their CRLF, still to come
  private line = ''; // a chunk-size or trailer line so far
  constructor(readonly loop: OpenLoop, readonly slot: number) {
    super();
    this.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  }
  /** Reads `chunk`; true once the response is complete (bytes after it are ignored: no pipelining). */
  feed(chunk: Buffer): boolean {
    let at = 0;
    while (this.phase === Phase.Head) {
      const end = chunk.indexOf(HEAD_END, at); // -1 also when the blank line straddles two chunks: found in the text below
      const before = this.head.length;
      this.head += chunk.toString('latin1', at, end < 0 ? chunk.length : end + 4); // only the head becomes text
      const split = this.head.indexOf('\r\n\r\n');
      if (split < 0) return this.head.length > 65536 ? bad('head too long') : false;
      at += split + 4 - before;
      const head = this.head.slice(0, split);
      this.head = '';
      this.startBody(head);
    }
    while (at < chunk.length && this.phase !== Phase.Done) {
      if (this.phase === Phase.Length || (this.phase === Phase.Chunks && this.left > 0)) {
        const n = Math.min(this.left, chunk.length - at);
        at += n;
        this.left -= n;
        if (this.left === 0 && this.phase === Phase.Length) this.phase = Phase.Done;
      } else if (this.phase === Phase.UntilEof) {
        at = chunk.length;
      } else {
        const nl = chunk.indexOf(10, at);
        this.line += chunk.toString('latin1', at, nl < 0 ? chunk.length : nl);
        if (this.line.length > 4096) bad('chunk line too long');
        if (nl < 0) return false;
        at = nl + 1;
        const line = this.line.trim();
        this.line = '';
        if (this.phase === Phase.Trailers) {
          if (line === '') this.phase = Phase.Done;
        } else {
          const size = parseInt(line, 16); // ignores `;extensions`
          if (!(size >= 0)) bad('bad chunk size');
          if (size === 0) this.phase = Phase.Trailers;
          else this.left = size + 2; // the data and its CRLF
        }
      }
    }
    return this.phase === Phase.Done;
  }
  private startBody(head: string): void {
    this.status = Number(httpStatus(head) ?? NaN);
    if (!(this.status >= 100)) bad('no status line');
    const length = Number(/^content-length:[ \t]*(\d+)/im.exec(head)?.[1] ?? -1);
    this.closeAfter = /^connection:.*\bclose\b/im.test(head);
    if (this.status < 200) this.phase = Phase.Head; // 1xx: the real response follows
    else if (this.status === 204 || this.status === 304) this.phase = Phase.Done;
    else if (/^transfer-encoding:.*\bchunked\b/im.test(head)) [this.phase, this.left] = [Phase.Chunks, 0];
    else if (length >= 0) [this.phase, this.left] = [length === 0 ? Phase.Done : Phase.Length, length];
    else this.phase = Phase.UntilEof; // the body ends with the connection
  }
  /** Ready for the next response on this connection. */
  restart(): void {
    [this.phase, this.head, this.line, this.status, this.closeAfter] = [Phase.Head, '', '', 0, false];
  }
}
function bad(why: string): never {
  throw new Error(why); // the request ends as 'bad response'
}

// Shared listeners, `this` the socket: no closure per request.
function onData(this: Conn, chunk: Buffer): void {
  if (this.request < 0) return; // nothing asked: ignore
  let complete: boolean;
  try {
    complete = this.feed(chunk);
  } catch {
    this.loop.fail(this, 'bad response');
    return void this.destroy();
  }
  if (complete) this.loop.answered(this);
}
function onEnd(this: Conn): void {
  const untilEof = this.request >= 0 && this.phase === Phase.UntilEof; // a body delimited by the close
  this.destroy(); // first: the slot must not send its next request on this connection
  if (untilEof) this.loop.answered(this);
  else this.loop.fail(this, 'closed');
}
function onError(this: Conn, error: NodeJS.ErrnoException): void {
  this.loop.fail(this, connectionError(error.code));
}
function onClose(this: Conn): void {
  this.loop.fail(this, 'closed'); // only if nothing else has ended its request
  this.loop.closed(this);
}

interface Slot {
  conn: Conn | undefined;
  queue: number[]; // requests assigned to this connection, due order
  next: number; // first of `queue` not yet taken
}

/** One row: `rate` requests a second for `seconds`, request i due at t0 + i / rate. */
class OpenLoop {
  readonly total: number;
  readonly due: Float64Array;
  readonly end: Float64Array;
  readonly lag: Float64Array; // how late the client fired each request: its own slowness
  readonly outcome: (string | undefined)[];
  private readonly sockets: (Conn | undefined)[]; // new mode: each request's socket until it ends
  private readonly slots: Slot[];
  private readonly targets: TcpSocketConnectOpts[]; // reused: one per source address
  private fired = 0;
  private oldest = 0; // requests before it have all ended
  private opened = 0;
  constructor(readonly mode: Mode, readonly rate: number, port: number) {
    this.total = Math.max(1, Math.floor(rate * seconds));
    [this.due, this.end, this.lag] = [new Float64Array(this.total), new Float64Array(this.total), new Float64Array(this.total)];
    this.outcome = new Array<string | undefined>(this.total).fill(undefined);
    this.sockets = mode === 'new' ? new Array<Conn | undefined>(this.total).fill(undefined) : [];
    this.slots = mode === 'keepalive' ? Array.from({ length: connections }, () => ({ conn: undefined, queue: [], next: 0 })) : [];
    const base = { host: '127.0.0.1', port, noDelay: true };
    this.targets = addresses.length === 0 ? [base] : addresses.map((localAddress) => ({ ...base, localAddress }));
  }
  private open(slot: number, request: number): Conn {
    const conn = new Conn(this, slot);
    conn.request = request;
    conn.connect(this.targets[this.opened++ % this.targets.length]!);
    if (request >= 0) conn.write(this.mode === 'new' ? CLOSE_REQUEST : KEEPALIVE_REQUEST); // sent once connected
    return conn;
  }
  /** Keep-alive: opens every connection and waits (DEADLINE_MS at most) for them to connect. */
  async connectAll(): Promise<void> {
    for (let s = 0; s < this.slots.length; s++) this.slots[s]!.conn = this.open(s, -1);
    const connected = this.slots.map((s) => once(s.conn!, 'connect').catch(() => undefined));
    await Promise.race([Promise.all(connected), sleep(DEADLINE_MS)]);
  }
  /** Runs the row; resolves with the CPU shares over its dispatch window once every request has ended. */
  run(serverCpuSeconds: () => number): Promise<{ client: number; server: number }> {
    const t0 = performance.now();
    for (let i = 0; i < this.total; i++) this.due[i] = t0 + (i * 1000) / this.rate;
    const [client0, server0] = [process.cpuUsage(), serverCpuSeconds()];
    let cpu: { client: number; server: number } | undefined;
    return new Promise((resolve) => {
      // One tick a millisecond fires every request due so far and expires every one past its deadline.
      const tick = (): void => {
        const now = performance.now();
        const due = Math.min(this.total, Math.floor(((now - t0) * this.rate) / 1000) + 1);
        while (this.fired < due) this.fire(this.fired++, now);
        while (this.oldest < this.fired && (this.outcome[this.oldest] !== undefined || this.due[this.oldest]! + DEADLINE_MS <= now)) this.expire(this.oldest++, now);
        const elapsed = (now - t0) / 1000;
        if (cpu === undefined && elapsed >= seconds) {
          const { user, system } = process.cpuUsage(client0);
          cpu = { client: (user + system) / 1e6 / elapsed, server: (serverCpuSeconds() - server0) / elapsed };
        }
        if (cpu !== undefined && this.oldest === this.total) {
          clearInterval(timer);
          for (const slot of this.slots) slot.conn?.destroy();
          resolve(cpu);
        }
      };
      const timer = setInterval(tick, 1);
      tick();
    });
  }
  private fire(i: number, now: number): void {
    this.lag[i] = now - this.due[i]!;
    if (this.mode === 'new') {
      this.sockets[i] = this.open(-1, i);
      return;
    }
    const s = i % this.slots.length;
    this.slots[s]!.queue.push(i);
    this.pump(s);
  }
  private expire(i: number, now: number): void {
    if (this.outcome[i] !== undefined) return;
    // A timed-out request's connection goes, as any client with a deadline would close it (and
    // HTTP/1.1 cannot skip a late answer on a keep-alive connection).
    const conn = this.mode === 'new' ? this.sockets[i] : this.slots[i % this.slots.length]!.conn;
    this.settle(i, 'timeout', now);
    if (conn?.request === i) conn.destroy();
  }
  /** Keep-alive: sends slot `s`'s next waiting request if its connection is free, reopening it if gone. */
  private pump(s: number): void {
    const slot = this.slots[s]!;
    const conn = slot.conn !== undefined && !slot.conn.destroyed ? slot.conn : undefined;
    if (conn !== undefined && conn.request >= 0) return; // busy: the request waits its turn
    while (slot.next < slot.queue.length && this.outcome[slot.queue[slot.next]!] !== undefined) slot.next++; // timed out while waiting
    if (slot.next === slot.queue.length) {
      slot.queue.length = slot.next = 0;
      return;
    }
    const i = slot.queue[slot.next++]!;
    if (conn === undefined) {
      slot.conn = this.open(s, i);
    } else {
      conn.restart();
      conn.request = i;
      conn.write(KEEPALIVE_REQUEST);
    }
  }
  answered(conn: Conn): void {
    const i = conn.request;
    conn.request = -1;
    this.settle(i, conn.status === 200 ? 'served' : conn.status === 503 ? '503' : 'other status');
    if (this.mode === 'new' || conn.closeAfter) conn.destroy(); // after a complete answer: no failure
    else this.pump(conn.slot);
  }
  fail(conn: Conn, outcome: string): void {
    if (conn.request < 0) return;
    this.settle(conn.request, outcome);
    conn.request = -1;
  }
  closed(conn: Conn): void {
    const slot = this.slots[conn.slot];
    if (slot === undefined || slot.conn !== conn) return;
    slot.conn = undefined;
    this.pump(conn.slot); // reopens for a request waiting
  }
  private settle(i: number, outcome: string, now = performance.now()): void {
    if (this.outcome[i] !== undefined) return; // the first ending counts
    this.outcome[i] = outcome;
    this.end[i] = now;
    if (this.mode === 'new') this.sockets[i] = undefined;
  }
}

interface Result {
  requests: number;
  outcomes: Record<string, number>;
  goodput: number; // served within GOOD_MS of due and within the row, per second of the row
  servedMs: { p50: number; p99: number; max: number };
  failureP99Ms: number; // from due to the failure, any kind
  failureMsByKind: Record<string, { p50: number; p99: number }>; // the same, per kind of failure
  fireLagMs: { p99: number; max: number };
  cpu: { client: number; server: number }; // shares of a core over the dispatch window
}

/** Sequential requests on new connections, so that the row measures a warm server. */
async function warmUp(port: number): Promise<void> {
  for (let k = 0; k < WARM_UP; k++) {
    const socket = connect({ host: '127.0.0.1', port }).on('error', () => undefined);
    socket.resume().write(CLOSE_REQUEST);
    await Promise.race([once(socket, 'close').catch(() => undefined), sleep(DEADLINE_MS)]); // once() rejects on 'error'
    socket.destroy();
  }
}

/** The child: one row against `port`; prints its Result as one JSON line. */
async function runClient(): Promise<void> {
  const mode = options.mode[0] as Mode;
  const serverPid = flags.need('server-pid');
  const port = flags.need('port');
  const loop = new OpenLoop(mode, flags.need('rate'), port);
  await warmUp(port);
  if (mode === 'keepalive') await loop.connectAll();
  const cpu = await loop.run(cpuSecondsReader(serverPid)); // a server that dies mid-row leaves its last reading
  const [served, failed]: number[][] = [[], []];
  const byKind = new Map<string, number[]>();
  let good = 0;
  // Goodput counts what was served within GOOD_MS AND by the row's end: a server that drains its
  // backlog after the row would otherwise be credited up to GOOD_MS more work time (+33% in 3 s).
  const rowEnd = loop.due[0]! + seconds * 1000;
  for (let i = 0; i < loop.total; i++) {
    const ms = loop.end[i]! - loop.due[i]!;
    (loop.outcome[i] === 'served' ? served : failed).push(ms);
    const kind = loop.outcome[i]!;
    if (kind !== 'served') byKind.set(kind, byKind.get(kind) ?? []).get(kind)!.push(ms);
    if (loop.outcome[i] === 'served' && ms <= GOOD_MS && loop.end[i]! <= rowEnd) good++;
  }
  if (options.trace !== undefined) {
    const line = (i: number): string => `${(loop.due[i]! - loop.due[0]!).toFixed(2)} ${(loop.end[i]! - loop.due[i]!).toFixed(2)} ${loop.outcome[i]}`;
    writeFileSync(options.trace, `${Array.from({ length: loop.total }, (_, i) => line(i)).join('\n')}\n`);
  }
  const lag = Array.from(loop.lag);
  const result: Result = {
    requests: loop.total,
    outcomes: tally(loop.outcome as string[]),
    goodput: good / seconds,
    servedMs: { p50: median(served), p99: percentile(served, 99), max: percentile(served, 100) },
    failureP99Ms: percentile(failed, 99),
    failureMsByKind: Object.fromEntries([...byKind].map(([kind, ms]) => [kind, { p50: median(ms), p99: percentile(ms, 99) }])),
    fireLagMs: { p99: percentile(lag, 99), max: percentile(lag, 100) },
    cpu,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

// ---- the parent: servers afresh per row, the client on core 1, the table, JSON and SVG ---------
interface Row extends Result {
  server: ServerName;
  mode: Mode;
  multiple: number; // of capacity
  offered: number; // requests/s
  capacityShare: number; // goodput / capacity
  broken: number; // reset + closed
  valid: boolean; // the client used at most half a core
  serverDied: boolean;
}
const live: { server?: Server; client?: ChildProcess } = {}; // what an interrupt must kill
const killLive = (): void => void [live.client?.kill('SIGKILL'), live.server?.child.kill('SIGKILL')];
const demoFlags = words(options['demo-flags']);

function serverCommand(name: ServerName): [script: string, args: string[]] {
  const common = ['--port', '0', '--busy-ms', String(busyMs)];
  if (name === 'plain') return ['build/bench/servers/plain-busy.js', common];
  if (name === 'fastify') return ['build/bench/servers/fastify-busy.js', [...common, '--max-lag-ms', '100']];
  return ['build/demo/server.js', [...common, '--limit', '1000', ...demoFlags]]; // a later --limit in --demo-flags wins
}

/** One row: a fresh server on core 0, this script with --client on core 1, then the server killed. */
async function runRow(name: ServerName, mode: Mode, rate: number, rowSeconds: number): Promise<Result & { serverDied: boolean }> {
  const server = (live.server = await startServer(...serverCommand(name), { cpu: 0 }));
  try {
    const args = ['--client', '--mode', mode, '--rate', String(rate), '--seconds', String(rowSeconds), '--port', String(server.port), '--server-pid', String(server.pid), '--connections', String(connections), '--addresses', String(addressCount)];
    const limitMs = (rowSeconds + 30) * 1000 + DEADLINE_MS; // bounded, whatever happens
    const { code, stdout, stderr } = await runPinned(1, [process.execPath, __filename, ...args], { limitMs, onChild: (child) => (live.client = child) });
    if (code !== 0) throw new Error(`the client exited with ${code}: ${stderr}`);
    return { ...lastJsonLine<Result>(stdout), serverDied: hasExited(server.child) }; // NaN arrives as null
  } finally {
    await stopServer(server);
    [live.server, live.client] = [undefined, undefined];
    await sleep(SETTLE_MS);
  }
}

/** Plain Node's best goodput in new mode: rising rates, 3 s each, until goodput stops rising. */
async function measureCapacity(): Promise<number> {
  let best = 0;
  for (let step = 0, rate = 120; step < 8; step++, rate += 20) {
    const r = await runRow('plain', 'new', rate, 3);
    console.log(`# capacity step: plain, new, offered ${rate}/s: goodput within 1 s ${r.goodput.toFixed(1)}/s, client CPU ${r.cpu.client.toFixed(2)}`);
    const rising = r.goodput > best * 1.01;
    best = Math.max(best, r.goodput);
    if (!rising) break;
  }
  return Math.round(best);
}

const KNOWN = ['served', 'refused', '503', 'reset', 'closed', 'timeout'];
const ms = (v: number | null): string => (v === null || !Number.isFinite(v) ? '-' : v < 10 ? v.toFixed(1) : String(Math.round(v)));
const HEADER =
  '| server | mode | offered/s | goodput/s ≤ 1 s | of capacity | served ms p50 / p99 / max | refused | 503 | reset | closed | timeout | other | broken | failure p99 ms | client CPU | server CPU | valid |\n' +
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|';
function tableRow(r: Row): string {
  const n = (k: string): number => r.outcomes[k] ?? 0;
  const other = Object.entries(r.outcomes).filter(([k]) => !KNOWN.includes(k)).map(([k, v]) => `${k} ${v}`).join(', ') || '0';
  const { p50, p99, max } = r.servedMs;
  const valid = `${r.valid ? 'valid' : 'INVALID'}${r.serverDied ? ', server died' : ''}`;
  return `| ${r.server} | ${r.mode} | ${Math.round(r.offered)} (${r.multiple}×) | ${r.goodput.toFixed(1)} | ${r.capacityShare.toFixed(2)} | ${ms(p50)} / ${ms(p99)} / ${ms(max)} | ${n('refused')} | ${n('503')} | ${n('reset')} | ${n('closed')} | ${n('timeout')} | ${other} | ${r.broken} | ${ms(r.failureP99Ms)} | ${r.cpu.client.toFixed(2)} | ${r.cpu.server?.toFixed(2) ?? '-'} | ${valid} |`;
}

const COLORS: Record<ServerName, string> = { plain: '#1f77b4', fastify: '#d62728', demo: '#2ca02c' };
const DASHES: Record<Mode, string> = { new: '', keepalive: '7 4' };
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Two panels, goodput and served p99 against the offered multiple (categorical x), a line per server and mode. */
function svg(rows: Row[], capacity: number): string {
  const [W, H, top, ph, pw] = [820, 500, 70, 330, 320];
  const multiples = [...new Set(rows.map((r) => r.multiple))].sort((a, b) => a - b);
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`, `<rect width="${W}" height="${H}" fill="white"/>`];
  const label = (x: number, y: number, s: string, extra = ''): void => void out.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${extra}>${esc(s)}</text>`);
  label(W / 2, 20, `Open-loop overload: ${busyMs} ms CPU a response, ${seconds} s a row, deadline ${DEADLINE_MS / 1000} s`, 'text-anchor="middle" font-size="15" font-weight="bold"');
  label(W / 2, 38, `${machine()}; capacity ${capacity}/s (plain Node, new connections, goodput within 1 s)`, 'text-anchor="middle"');
  const panels = [
    { x0: 70, title: 'goodput within 1 s (requests/s)', value: (r: Row) => r.goodput, log: false },
    { x0: 480, title: 'served p99 (ms, log scale)', value: (r: Row) => r.servedMs.p99, log: true },
  ];
  for (const { x0, title, value, log } of panels) {
    const shown = (v: number | null): v is number => v !== null && Number.isFinite(v) && (!log || v > 0); // null: NaN in JSON
    const values = rows.map(value).filter(shown);
    const x = (m: number): number => x0 + ((multiples.indexOf(m) + 0.5) * pw) / multiples.length;
    const [lo, hi] = log ? [10 ** Math.floor(Math.log10(Math.min(1, ...values))), 10 ** Math.ceil(Math.log10(Math.max(DEADLINE_MS, ...values)))] : [0, Math.max(capacity, ...values) * 1.1];
    const y = (v: number): number => top + ph - (log ? Math.log10(v / lo) / Math.log10(hi / lo) : v / hi) * ph;
    const raw = hi / 5;
    const step = 10 ** Math.floor(Math.log10(raw)) * ([1, 2, 5, 10].find((f) => f * 10 ** Math.floor(Math.log10(raw)) >= raw) ?? 10);
    const ticks = log ? Array.from({ length: Math.round(Math.log10(hi / lo)) + 1 }, (_, k) => lo * 10 ** k) : Array.from({ length: Math.floor(hi / step) + 1 }, (_, k) => k * step);
    out.push(`<rect x="${x0}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
    for (const t of ticks) {
      out.push(`<line x1="${x0}" x2="${x0 + pw}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#ddd"/>`);
      label(x0 - 5, y(t) + 4, String(t), 'text-anchor="end"');
    }
    const [refValue, refText] = log ? [GOOD_MS, '1 s'] : [capacity, 'capacity'];
    out.push(`<line x1="${x0}" x2="${x0 + pw}" y1="${y(refValue).toFixed(1)}" y2="${y(refValue).toFixed(1)}" stroke="#888" stroke-dasharray="2 3"/>`);
    label(x0 + 4, y(refValue) - 4, refText, 'fill="#666"'); // at the left, where 0.5x lies far below (goodput) or far above (p99)
    for (const m of multiples) label(x(m), top + ph + 16, `${m}×`, 'text-anchor="middle"');
    label(x0 + pw / 2, top + ph + 34, 'offered load (multiple of capacity)', 'text-anchor="middle"');
    label(x0 + pw / 2, top - 8, title, 'text-anchor="middle" font-weight="bold" font-size="12"');
    for (const server of SERVERS) {
      for (const mode of ['new', 'keepalive'] as const) {
        const series = rows.filter((r) => r.server === server && r.mode === mode).sort((a, b) => a.multiple - b.multiple);
        const points = series.filter((r) => shown(value(r)));
        if (points.length === 0) continue;
        // The line breaks where a row has no value (nothing served: no p99).
        const d = series.map((r, k) => (shown(value(r)) ? `${k > 0 && shown(value(series[k - 1]!)) ? 'L' : 'M'}${x(r.multiple).toFixed(1)},${y(value(r)).toFixed(1)}` : '')).join(' ');
        out.push(`<path d="${d.trim()}" fill="none" stroke="${COLORS[server]}" stroke-width="2" stroke-dasharray="${DASHES[mode]}"/>`);
        for (const r of points) out.push(`<circle cx="${x(r.multiple).toFixed(1)}" cy="${y(value(r)).toFixed(1)}" r="3.5" stroke="${COLORS[server]}" fill="${r.valid ? COLORS[server] : 'white'}"/>`);
      }
    }
  }
  // The legend, one line along the bottom: a swatch (drawn at x) and its text.
  const legend: [swatch: (x: number) => string, text: string][] = [
    ...SERVERS.filter((s) => rows.some((r) => r.server === s)).map((s): [(x: number) => string, string] => [(x) => `<rect x="${x}" y="${H - 34}" width="24" height="10" fill="${COLORS[s]}"/>`, s]),
    ...(['new', 'keepalive'] as const).filter((m) => rows.some((r) => r.mode === m)).map((m): [(x: number) => string, string] => [(x) => `<line x1="${x}" x2="${x + 24}" y1="${H - 29}" y2="${H - 29}" stroke="#333" stroke-width="2" stroke-dasharray="${DASHES[m]}"/>`, `${m} connections`]),
    [(x) => `<circle cx="${x + 12}" cy="${H - 29}" r="3.5" stroke="#333" fill="white"/>`, 'INVALID row (client > 0.5 core)'],
  ];
  let lx = 70;
  for (const [swatch, name] of legend) {
    out.push(swatch(lx));
    label(lx + 30, H - 25, name);
    lx += 44 + name.length * 6.2;
  }
  out.push('</svg>');
  return out.join('\n');
}

async function main(): Promise<void> {
  const unique = <T>(items: T[]): T[] => [...new Set(items)];
  const servers = unique(options.servers);
  const modeFlag = unique(options.mode);
  const modes: Mode[] = modeFlag.includes('both') ? ['new', 'keepalive'] : (modeFlag as Mode[]);
  const multiples = unique(options.multiples);
  const forget = onInterrupt(killLive);
  const from = addresses.length === 0 ? '127.0.0.1' : `${addresses[0]}..${addresses.at(-1)}`;
  console.log(`# openLoop: ${seconds} s a row, deadline ${DEADLINE_MS} ms, busy ${busyMs} ms, ${connections} keep-alive connections, clients from ${from}, demo ${demoFlags.join(' ')}; ${machine()}`);
  const capacity = options.capacity ?? (await measureCapacity());
  console.log(`# capacity: ${capacity}/s${options.capacity === undefined ? ' (measured)' : ' (--capacity)'}\n\n${HEADER}`);
  const rows: Row[] = [];
  // Servers side by side at each load, so that the machine's drift hits them alike.
  for (const mode of modes) {
    for (const multiple of multiples) {
      for (const server of servers) {
        const r = await runRow(server, mode, capacity * multiple, seconds);
        const broken = (r.outcomes.reset ?? 0) + (r.outcomes.closed ?? 0);
        rows.push({ server, mode, multiple, offered: capacity * multiple, capacityShare: r.goodput / capacity, broken, valid: r.cpu.client <= 0.5, ...r });
        console.log(tableRow(rows.at(-1)!));
      }
    }
  }
  forget();
  const write = (path: string, content: string): void => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  };
  if (options.json !== undefined) write(options.json, `${JSON.stringify({ machine: machine(), capacity, seconds, busyMs, connections, addresses, demoFlags, deadlineMs: DEADLINE_MS, rows }, null, 2)}\n`);
  const svgPath = options.svg;
  write(svgPath, `${svg(rows, capacity)}\n`);
  console.log(`\n# wrote ${svgPath}${options.json !== undefined ? ` and ${options.json}` : ''}`);
}

const done = options.client ? runClient() : main();
done.catch((error: unknown) => {
  killLive();
  console.error(error);
  process.exit(1);
});
