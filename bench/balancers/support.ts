/*
 * What both balancer experiments share: the backends (restarted in place), nginx's and HAProxy's
 * configurations and processes, HAProxy's stats socket, and what the balancers logged.
 */
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { canConnect, nginxConf, startNginx } from '../support/nginx';
import { sleep, startServer, stopChild, stopServer, tally, type Server } from '../support/run';

/** The flags of `npm run bench:balancers`. */
export interface BalancerOptions {
  only: 'restarts' | 'overload' | undefined;
  runs: number;
  seconds: number | undefined;
  rate: number | undefined;
}

export const HOST = '127.0.0.1';

// ---------------------------------------------------------------------------------------------
// Backends

/** One backend: a process on a fixed port (and agent port), restarted in place. */
export class Backend {
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

export interface Restart {
  backend: string;
  sigterm: number; // ms on the run's clock
  drainEnd?: number; // the demo's `stopping:` line
  exit: number;
  exitCode: number | string | null;
  ready: number;
}

// ---------------------------------------------------------------------------------------------
// Balancers

export interface Balancer {
  readonly name: 'nginx' | 'haproxy';
  readonly port: number;
  readonly dir: string;
  stop(): Promise<void>;
}

export const NGINX_UPSTREAM = (ports: number[]): string[] => [
  'upstream backends {',
  ...ports.map((p) => `  server 127.0.0.1:${p} max_fails=0;`),
  '  keepalive 32;',
  '}',
];
export const NGINX_LOCATION = ['proxy_pass http://backends;', 'proxy_http_version 1.1;', 'proxy_set_header Connection "";'];

/** nginx in front of `backendPorts`, upstream keep-alive, logging every answer that is not a clean 200 from one upstream. */
export async function startNginxBalancer(dir: string, port: number, backendPorts: number[]): Promise<Balancer> {
  const logging = `  # Every request that is not a clean 200 from one upstream: when, what, from where.
  map "$status:$upstream_status" $unusual { "200:200" 0; default 1; }
  log_format unusual '$msec $status "$upstream_status" "$upstream_addr" $request_time $connection';
  access_log ${dir}/access.log unusual if=$unusual;`;
  const rest = `${NGINX_UPSTREAM(backendPorts).map((l) => `  ${l}`).join('\n')}
  server {
    listen 127.0.0.1:${port};
    location / {
${NGINX_LOCATION.map((l) => `      ${l}`).join('\n')}
      # proxy_next_upstream error timeout (the default): a POST only if it was never sent
    }
  }`;
  const { stop } = await startNginx(dir, port, nginxConf(dir, 4096, logging, rest));
  return { name: 'nginx', port, dir, stop };
}

export interface HaproxyServer {
  name: string;
  port: number;
  agentPort?: number;
}

export const HAPROXY_DEFAULTS = [
  'mode http',
  'option http-keep-alive   # the default: keep-alive on both sides',
  'http-reuse safe          # the default: idle server connections shared between clients',
  'retries 3                # the default',
  'option redispatch        # not the default, but in most production configurations: the last retry to another server',
  'timeout connect 5s',
  'timeout client 30s',
  'timeout server 30s',
];
export const haproxyServerLine = (s: HaproxyServer, agentInterMs: number): string =>
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

export interface Haproxy extends Balancer {
  /** The abnormal requests HAProxy logged (`END_MS STATUS STATE SERVER RETRIES TOTAL_MS`), and its own messages. */
  log: string[];
  stderr: string[];
}

export async function startHaproxy(dir: string, port: number, servers: HaproxyServer[], agentInterMs: number): Promise<Haproxy> {
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

/** HAProxy started as startHaproxy does, once every server reads UP, its log emptied of its own connect probe (a 400 CR). */
export async function startHaproxyUp(dir: string, port: number, servers: HaproxyServer[], agentInterMs: number): Promise<Haproxy> {
  const haproxy = await startHaproxy(dir, port, servers, agentInterMs);
  try {
    await waitUp(dir);
  } catch (error) {
    await haproxy.stop();
    throw error;
  }
  haproxy.log.length = 0;
  return haproxy;
}

/** `show stat` on HAProxy's admin socket: the rows of backend `be`'s servers, by column name. */
export function showStat(dir: string): Promise<Record<string, string>[]> {
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
      if (names[17] !== 'status') return reject(new Error(`show stat: field 18 is ${names[17]}, not status`));
      resolve(
        rows
          .map((row) => Object.fromEntries(row.split(',').map((value, i) => [names[i], value])))
          .filter((r) => r.pxname === 'be' && r.svname !== 'BACKEND'),
      );
    });
  });
}

/** Waits (at most `ms`) until every server of `be` reads UP. */
export async function waitUp(dir: string, ms = 10_000): Promise<void> {
  let last: Record<string, string>[] = [];
  for (const start = Date.now(); Date.now() - start < ms; await sleep(50)) {
    last = await showStat(dir);
    if (last.length > 0 && last.every((r) => r.status === 'UP')) return;
  }
  throw new Error(`HAProxy's servers did not come UP: ${last.map((r) => `${r.svname} ${r.status}`).join(', ')}`);
}

// ---------------------------------------------------------------------------------------------
// What the balancers logged

/** Where an event at `at` (ms on the run's clock) falls in the restarts, e.g. "a: 2 ms after its drain ended, before exit". */
export function phase(at: number, restarts: Restart[]): string {
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

/** HAProxy's abnormal requests by status, termination state, server and retries, and where they fell in the restarts; its own messages apart. */
export function haproxyUnusual(log: string[], t0: number, restarts: Restart[]): { requests: Record<string, number>; messages: Record<string, number> } {
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

/** After a row: the balancer and the backends stopped by their PIDs, the run's directory removed. */
export async function tearDown(balancer: Balancer | undefined, backends: Backend[], dir: string): Promise<void> {
  if (balancer) await balancer.stop();
  for (const b of backends) await b.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** On an interrupt: the backends killed, the run's directory removed. */
export function killAndRemove(backends: Backend[], dir: string): void {
  for (const b of backends) b.server?.child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
