/* Process plumbing for the benchmarks: start a server, read /proc, run wrk. Loopback only;
 * every child is started here and killed by its PID. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
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
  // One killed by a signal has a signalCode and no exitCode: its 'exit' has come and gone.
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
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
  requireCommand('wrk', ['-v']);
}

/** Exits 2 with the install instruction when `command` is not installed (Debian's package of the same name). */
export function requireCommand(command: string, versionArgs: string[]): void {
  try {
    execFileSync(command, versionArgs, { stdio: 'ignore' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      console.error(`${command} is missing: install it with \`apt-get update && apt-get install -y ${command}\` (Debian/Ubuntu).`);
      process.exit(2);
    }
  }
}

/** A port free on 127.0.0.1 now (another process may take it before it is used: fine on a test machine). */
export async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  await once(probe, 'close');
  return port;
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

/** The kernel's TCP extension counters (ListenOverflows, TCPSynRetrans, ...): system-wide, so compare deltas on a quiet machine. */
export function tcpCounters(): Record<string, number> {
  const [names, values] = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
  const keys = names!.split(' ').slice(1);
  const numbers = values!.split(' ').slice(1).map(Number);
  return Object.fromEntries(keys.map((key, i) => [key, numbers[i]!]));
}

/** How many times each label occurs. */
export function tally(labels: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const label of labels) counts[label] = (counts[label] ?? 0) + 1;
  return counts;
}

export function machine(): string {
  const cpus = require('node:os').cpus() as { model: string }[];
  return `${cpus.length} cores (${cpus[0]?.model ?? 'unknown'}), Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

/** The p-th percentile (0 to 100) by nearest rank: a value that occurred; NaN for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** On SIGINT/SIGTERM during a run, `cleanup` still runs; returns the function that forgets it. */
export function onInterrupt(cleanup: () => void): () => void {
  const handler = (): void => {
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', handler).once('SIGTERM', handler);
  return () => process.off('SIGINT', handler).off('SIGTERM', handler);
}
