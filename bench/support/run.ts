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
  const command = pinned(cpu, [process.execPath, ...nodeArgs, join(root, script), ...args]).map((a) => `'${a}'`).join(' ');
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
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`${script} did not start: ${stderr.join('\n')}`);
}

export async function stopServer(server: Server): Promise<void> {
  // One killed by a signal has a signalCode and no exitCode: its 'exit' has come and gone.
  if (hasExited(server.child)) return;
  server.child.kill('SIGKILL');
  await once(server.child, 'exit');
}

/** CPU seconds (user + system) the process has used, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/**
 * A reader of `pid`'s CPU seconds that keeps its last reading once the process is gone (NaN
 * before any): a server that dies during a run leaves no /proc entry to read at its end.
 */
export function cpuSecondsReader(pid: number): () => number {
  let last = NaN;
  return () => {
    try {
      return (last = cpuSeconds(pid));
    } catch {
      return last;
    }
  };
}

/** A process's memory figure from /proc/PID/status, in KiB: `VmHWM` (its peak resident set) or `VmRSS` (now). */
function statusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

/** Peak resident set size in KiB (VmHWM). */
export function peakRssKiB(pid: number): number {
  return statusKiB(pid, 'VmHWM');
}

/** Resident set size now in MiB (VmRSS), or NaN once the process is gone. */
export function residentMiB(pid: number): number {
  try {
    return statusKiB(pid, 'VmRSS') / 1024;
  } catch {
    return NaN;
  }
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

/** `command` (its argv) under `taskset -c cpu`, or as it is without a cpu. */
export function pinned(cpu: number | undefined, command: string[]): string[] {
  return cpu === undefined ? command : ['taskset', '-c', String(cpu), ...command];
}

/** Runs wrk and returns its requests/s, the requests it completed and its full output. */
export async function wrk(args: string[], cpu?: number): Promise<{ rps: number; requests: number; output: string }> {
  const [command, ...rest] = pinned(cpu, ['wrk', ...args]);
  const child = spawn(command!, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  await once(child, 'exit');
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1] ?? NaN);
  const requests = Number(/(\d+) requests in/.exec(output)?.[1] ?? NaN);
  return { rps, requests, output };
}

/**
 * Runs `command` (an argv) pinned to `cpu`, collecting its output, until it has exited and its
 * output is read; killed by its PID (SIGKILL) after `limitMs` if given. `onChild` sees the
 * process as soon as it is spawned (e.g. to kill it on an interrupt).
 */
export async function runPinned(
  cpu: number,
  command: string[],
  { limitMs, onChild }: { limitMs?: number; onChild?: (child: ChildProcess) => void } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; killed: boolean }> {
  const [file, ...args] = pinned(cpu, command);
  const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  onChild?.(child);
  let [stdout, stderr, killed] = ['', '', false];
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = limitMs === undefined ? undefined : setTimeout(() => ((killed = true), child.kill('SIGKILL')), limitMs);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr, killed };
}

/** The last line of a child's output, parsed as JSON (NaN figures arrive as null). */
export function lastJsonLine<T>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}

/** Whether `child` has exited (an exit code) or been killed (a signal). */
export const hasExited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

/** Waits for `child` to exit, at most `ms`; true if it did. */
export function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (hasExited(child)) return Promise.resolve(true);
  return within(once(child, 'exit').then(() => true), ms, false);
}

/** Stops a child by its PID: `signal`, then SIGKILL after `ms`. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, ms = 5000): Promise<void> {
  if (hasExited(child)) return;
  child.kill(signal);
  if (!(await exited(child, ms))) {
    child.kill('SIGKILL');
    await exited(child, ms);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`'s value, or `fallback` after `ms`. */
export function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** `value` rounded to `digits` decimals, as a number. */
export const round = (value: number, digits = 1): number => Number(value.toFixed(digits));

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
