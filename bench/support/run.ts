/* Process plumbing for the benchmarks: start a server, read /proc, run wrk. Loopback only;
 * every child is started here and killed by its PID. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const root = join(__dirname, '..', '..', '..');

export interface Server {
  child: ChildProcess;
  pid: number;
  port: number;
  stderr: string[];
  stdout: string[];
}

/** Starts `node <script> args` under an optional `ulimit -n`, resolving when it prints its ready line. */
export async function startServer(
  script: string,
  args: string[],
  { ulimit, nodeArgs = [], cpu }: { ulimit?: number; nodeArgs?: string[]; cpu?: number } = {},
): Promise<Server> {
  const pin = cpu === undefined ? [] : ['taskset', '-c', String(cpu)];
  const command = [...pin, process.execPath, ...nodeArgs, join(root, script), ...args].map((a) => `'${a}'`).join(' ');
  const child = spawn('bash', ['-c', `${ulimit ? `ulimit -n ${ulimit} && ` : ''}exec ${command}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  const stdout: string[] = [];
  const lines = (into: string[]) => (chunk: Buffer) => into.push(...chunk.toString().split('\n').filter((l) => l !== ''));
  child.stderr!.on('data', lines(stderr));
  child.stdout!.on('data', lines(stdout));
  for (let i = 0; i < 100; i++) {
    const line = stdout.find((l) => l.startsWith('listening on'));
    if (line) return { child, pid: child.pid!, port: Number(/:(\d+)$/.exec(line)![1]), stderr, stdout };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${script} did not start: ${stderr.join('\n')}`);
}

export async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode !== null) return;
  server.child.kill('SIGKILL');
  await once(server.child, 'exit');
}

/** CPU seconds (user + system) the process has used, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** Peak resident set size in KiB (VmHWM). */
export function peakRssKiB(pid: number): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

export function requireWrk(): void {
  try {
    execFileSync('wrk', ['-v'], { stdio: 'ignore' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      console.error('wrk is missing: install it with `apt-get update && apt-get install -y wrk` (Debian/Ubuntu).');
      process.exit(2);
    }
  }
}

/** Runs wrk and returns its requests/s and its full output. */
export async function wrk(args: string[], cpu?: number): Promise<{ rps: number; output: string }> {
  const child = cpu === undefined ? spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn('taskset', ['-c', String(cpu), 'wrk', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  await once(child, 'exit');
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? NaN);
  return { rps, output };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function machine(): string {
  const cpus = require('node:os').cpus() as { model: string }[];
  return `${cpus.length} cores (${cpus[0]?.model ?? 'unknown'}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}
