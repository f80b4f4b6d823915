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
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFlags } from './support/flags';
import { nginxConf, startNginx, upstreamError, type Nginx } from './support/nginx';
import { freePort, machine, onInterrupt, requireCommand, requireWrk, startServer, stopServer, tally, wrk, type Server } from './support/run';

const HOLD_MS = 200;
const { seconds } = parseFlags('nginx', { seconds: { kind: 'integer', min: 1, default: 10 } }).values;
const LOAD = ['-t2', '-c200', `-d${seconds}s`, '--timeout', '5s'];

const backends = [
  { backends: 'plain Node', script: 'build/bench/servers/plain.js', flags: [] },
  { backends: 'demo --limit 200', script: 'build/demo/server.js', flags: ['--limit', '200'] },
  { backends: 'demo --limit 200 --queue-size 0', script: 'build/demo/server.js', flags: ['--limit', '200', '--queue-size', '0'] },
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

function conf(dir: string, port: number, backendPorts: number[], serverFlags: string): string {
  const logging = `  log_format upstreams '$status $upstream_status';
  access_log ${dir}/access.log upstreams;`;
  const rest = `  upstream backends {
${backendPorts.map((p) => `    server 127.0.0.1:${p}${serverFlags};`).join('\n')}
  }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://backends; } # proxy_next_upstream error timeout: the default
  }`;
  return nginxConf(dir, 1024, logging, rest);
}

/** nginx's reasons for its upstream errors and which backend gave them, e.g. "limited: connect() failed (111: Connection refused) while connecting to upstream". */
function upstreamErrors(dir: string, limitedPort: number): Record<string, number> {
  const lines = readFileSync(join(dir, 'error.log'), 'utf8').split('\n');
  return tally(
    lines.flatMap((line) => {
      const error = upstreamError(line);
      if (!error) return [];
      return error.port === undefined ? error.reason : `${Number(error.port) === limitedPort ? 'limited' : 'unlimited'}: ${error.reason}`;
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
  const servers: Server[] = [];
  let nginx: Nginx | undefined;
  const forget = onInterrupt(() => {
    nginx?.child.kill('SIGTERM');
    for (const s of servers) s.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    const args = ['--port', '0', '--hold-ms', `${HOLD_MS}`, ...backend.flags];
    servers.push(await startServer(backend.script, args, { ulimit: 100 }));
    servers.push(await startServer(backend.script, args));
    const port = await freePort();
    writeFileSync(join(dir, 'post.lua'), POST_LUA);
    nginx = await startNginx(dir, port, conf(dir, port, servers.map((s) => s.port), upstream.serverFlags));
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
    if (nginx) await nginx.stop();
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
