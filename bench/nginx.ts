/*
 * Two backends behind nginx, one of them under `ulimit -n 100`, both holding every response
 * HOLD_MS so that the limited one runs out of descriptors; wrk POSTs through nginx. Reports
 * what the clients got (the share of 502s, the other statuses, socket errors) and why (nginx's
 * error log), for plain Node backends against demo backends, with nginx's default upstream
 * (max_fails=1) and with max_fails=0, side by side in one run.
 *
 * POST, because nginx passes a non-idempotent request to the other backend only when it was
 * never sent (proxy_next_upstream's default): a refused connection is retried elsewhere, a
 * connection accepted and then closed is a 502.
 *
 * nginx (Debian's package) runs as this user from a temporary prefix, on a free port of
 * 127.0.0.1, and is stopped by its master's PID; the prefix is removed, also on error.
 *
 *   npm run bench:nginx [-- --seconds N]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, machine, onInterrupt, requireCommand, requireWrk, startServer, stopServer, tally, wrk, type Server } from './support/run';

const HOLD_MS = 200;
const seconds = Number(parseArgs({ options: { seconds: { type: 'string' } } }).values.seconds ?? 10);
const LOAD = ['-t2', '-c200', `-d${seconds}s`, '--timeout', '5s'];

const backends = [
  { backends: 'plain Node', script: 'build/bench/servers/plain.js', flags: [] },
  { backends: 'demo --limit 200', script: 'build/demo/server.js', flags: ['--limit', '200'] },
  { backends: 'demo --limit 200 --queue 0', script: 'build/demo/server.js', flags: ['--limit', '200', '--queue', '0'] },
];
const upstreams = [
  { upstream: 'max_fails=1 (default)', serverFlags: '' },
  { upstream: 'max_fails=0', serverFlags: ' max_fails=0' },
];

// wrk: POST a small JSON body; count the statuses in every thread, print them with the socket errors as one JSON line.
const POST_LUA = `
wrk.method = "POST"
wrk.body = '{"hello":"nginx"}'
wrk.headers["Content-Type"] = "application/json"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local total, parts = {}, {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do total[status] = (total[status] or 0) + n end
  end
  for status, n in pairs(total) do table.insert(parts, string.format('"%d":%d', status, n)) end
  local e = summary.errors
  io.write(string.format('load {"statuses":{%s},"socketErrors":{"connect":%d,"read":%d,"write":%d,"timeout":%d}}\\n',
    table.concat(parts, ","), e.connect, e.read, e.write, e.timeout))
end
`;

function nginxConf(dir: string, port: number, backendPorts: number[], serverFlags: string): string {
  return `daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log error;
events { worker_connections 1024; }
http {
  log_format upstreams '$status $upstream_status';
  access_log ${dir}/access.log upstreams;
  # Debian's defaults are under /var/lib/nginx, which only root may write.
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream backends {
${backendPorts.map((p) => `    server 127.0.0.1:${p}${serverFlags};`).join('\n')}
  }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://backends; } # proxy_next_upstream error timeout: the default
  }
}
`;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** Starts nginx from the prefix `dir`, resolving once it accepts on `port` (within 5 s). */
async function startNginx(dir: string, port: number): Promise<ChildProcess> {
  // -e: the error log before the configuration is read (else /var/log/nginx, root's).
  const nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  nginx.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  for (let i = 0; i < 50 && nginx.exitCode === null; i++) {
    if (await canConnect(port)) return nginx;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stopNginx(nginx);
  throw new Error(`nginx did not start: ${stderr.trim()}`);
}

/** SIGQUIT (graceful), then SIGTERM (fast): the master stops its worker either way; SIGKILL would orphan it. */
async function stopNginx(nginx: ChildProcess): Promise<void> {
  for (const signal of ['SIGQUIT', 'SIGTERM'] as const) {
    if (nginx.exitCode !== null || nginx.signalCode !== null) return;
    nginx.kill(signal);
    await Promise.race([once(nginx, 'exit'), new Promise((r) => setTimeout(r, 5000))]);
  }
}

/** nginx's reasons for its upstream errors and which backend gave them, e.g. "limited: connect() failed (111: Connection refused) while connecting to upstream". */
function upstreamErrors(dir: string, limitedPort: number): Record<string, number> {
  const lines = readFileSync(join(dir, 'error.log'), 'utf8').split('\n');
  return tally(
    lines.flatMap((line) => {
      const reason = /\*\d+ (.+?), client:/.exec(line)?.[1];
      const port = /upstream: "http:\/\/127\.0\.0\.1:(\d+)/.exec(line)?.[1];
      if (!reason) return [];
      return port === undefined ? reason : `${Number(port) === limitedPort ? 'limited' : 'unlimited'}: ${reason}`;
    }),
  );
}

/** Requests nginx sent to more than one backend ("502, 200" in $upstream_status). */
function retried(dir: string): number {
  return readFileSync(join(dir, 'access.log'), 'utf8').split('\n').filter((line) => line.includes(',')).length;
}

/** The figures of one wrk run, from the line post.lua prints. */
function loadFigures(output: string) {
  const line = /^load (.*)$/m.exec(output)?.[1];
  if (!line) throw new Error(`wrk printed no figures: ${output.trim()}`);
  const { statuses, socketErrors } = JSON.parse(line) as { statuses: Record<string, number>; socketErrors: Record<string, number> };
  const responses = Object.values(statuses).reduce((a, b) => a + b, 0);
  return { responses, share502: Number(((statuses['502'] ?? 0) / responses).toFixed(4)), statuses, socketErrors };
}

async function measure(backend: (typeof backends)[number], upstream: (typeof upstreams)[number]): Promise<object> {
  const dir = mkdtempSync(join(tmpdir(), 'rxjs-listen-nginx-'));
  chmodSync(dir, 0o755); // run as root, nginx's worker is `nobody` and creates its temp directories here
  const servers: Server[] = [];
  let nginx: ChildProcess | undefined;
  const forget = onInterrupt(() => {
    nginx?.kill('SIGTERM');
    for (const s of servers) s.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    const args = ['--port', '0', '--hold-ms', `${HOLD_MS}`, ...backend.flags];
    servers.push(await startServer(backend.script, args, { ulimit: 100 }));
    servers.push(await startServer(backend.script, args));
    const port = await freePort();
    writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir, port, servers.map((s) => s.port), upstream.serverFlags));
    writeFileSync(join(dir, 'post.lua'), POST_LUA);
    nginx = await startNginx(dir, port);
    const { output } = await wrk([...LOAD, '-s', join(dir, 'post.lua'), `http://127.0.0.1:${port}/`]);
    return {
      upstream: upstream.upstream,
      backends: backend.backends,
      ...loadFigures(output),
      retriedOnTheOtherBackend: retried(dir),
      nginxUpstreamErrors: upstreamErrors(dir, servers[0]!.port), // servers[0] is the one under ulimit -n 100
      backendsAlive: servers.map((s) => s.child.exitCode === null),
    };
  } catch (error) {
    return { upstream: upstream.upstream, backends: backend.backends, error: (error as Error).message.split('\n').slice(0, 2).join(' ') };
  } finally {
    if (nginx) await stopNginx(nginx);
    for (const s of servers) await stopServer(s);
    rmSync(dir, { recursive: true, force: true });
    forget();
  }
}

async function main(): Promise<void> {
  requireCommand('nginx', ['-v']);
  requireWrk();
  console.log(`# nginx: 2 backends (one under ulimit -n 100), hold ${HOLD_MS} ms, wrk ${LOAD.join(' ')} POST; ${machine()}`);
  for (const upstream of upstreams) {
    for (const backend of backends) console.log(JSON.stringify(await measure(backend, upstream)));
  }
}

void main();
