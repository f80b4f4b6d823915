/*
 * nginx (Debian's package) for the benchmarks: run as this user from a temporary prefix, on a
 * port of 127.0.0.1, in the foreground, and stopped by its master's PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { exited, sleep } from './run';

/**
 * A configuration for the prefix `dir`: one worker, its pid and error log in `dir`, and
 * `http`'s own lines (`logging` first, then `rest`, each already indented) around the temporary
 * paths, which Debian puts where only root may write.
 */
export function nginxConf(dir: string, workerConnections: number, logging: string, rest: string): string {
  return `daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log error;
events { worker_connections ${workerConnections}; }
http {
${logging}
  # Debian's defaults are under /var/lib/nginx, which only root may write.
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${rest}
}
`;
}

/** Whether a connection to 127.0.0.1:`port` succeeds within 1 s. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(1000, () => (socket.destroy(), resolve(false)));
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

export interface Nginx {
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Writes `conf` as `dir`/nginx.conf and starts nginx from the prefix `dir`, resolving once it accepts on `port` (within 5 s). */
export async function startNginx(dir: string, port: number, conf: string): Promise<Nginx> {
  chmodSync(dir, 0o755); // run as root, nginx's worker is `nobody` and creates its temp directories here
  writeFileSync(join(dir, 'nginx.conf'), conf);
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
    if (await canConnect(port)) return { child, stop };
    await sleep(100);
  }
  await stop();
  throw new Error(`nginx did not start: ${stderr.trim()}`);
}

/** An upstream error of nginx's error log: its reason and the upstream's port, e.g. "connect() failed (111: Connection refused) while connecting to upstream". */
export function upstreamError(line: string): { reason: string; port: string | undefined } | undefined {
  const reason = /\*\d+ (.+?), client:/.exec(line)?.[1];
  return reason ? { reason, port: /upstream: "http:\/\/127\.0\.0\.1:(\d+)/.exec(line)?.[1] } : undefined;
}
