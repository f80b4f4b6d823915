/* A heap threshold crossed by a handler that allocates: the compiled library in a child process
 * under `--max-old-space-size=256`, raw TCP on loopback, every wait bounded. The child is
 * killed by its PID after each spec. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { join } from 'node:path';
import { sleep } from './support/net';

const script = join(__dirname, 'fixtures', 'heap-server.js');
const ANSWERS = ['hi', 'ECONNREFUSED', 'ECONNRESET'];

interface Server {
  child: ChildProcess;
  port: number;
  stdout(): string;
  stderr(): string;
}

/** Starts the fixture, resolving once it prints `listening on PORT` (at most 10 s). */
async function startServer(): Promise<Server> {
  const child = spawn(process.execPath, ['--expose-gc', '--max-old-space-size=256', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the heap server did not start in 10 s: ${stdout} ${stderr}`)), 10_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (\d+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the heap server exited (${code ?? signal}) before listening: ${stdout} ${stderr}`));
    });
  });
  return { child, port, stdout: () => stdout, stderr: () => stderr };
}

/** Connects and reads to the end: resolves with what the server wrote, or the error code (at most 3 s). */
function exchange(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.setTimeout(3000, () => socket.destroy(Object.assign(new Error('timed out'), { code: 'TIMEOUT' })));
    socket.on('data', (chunk: Buffer) => (data += chunk.toString()));
    socket.on('end', () => {
      socket.destroy();
      resolve(data.trim());
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? String(error)));
  });
}

/** Exchanges until one gives `wanted` or `ms` have passed; resolves with every outcome seen. */
async function until(port: number, wanted: string, ms: number): Promise<string[]> {
  const seen: string[] = [];
  for (const end = Date.now() + ms; Date.now() < end; ) {
    const outcome = await exchange(port);
    seen.push(outcome);
    if (outcome === wanted) break;
    await sleep(10);
  }
  return seen;
}

describe('a listener paused on heapUsed', () => {
  let server: Server | undefined;
  afterEach(async () => {
    const child = server?.child;
    server = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL'); // by its PID: only the child this spec started
      await Promise.race([exited, sleep(5000)]);
    }
  });

  it('refuses new clients while a handler holds 120 MiB, accepts again once it is freed, and is never killed for memory', async () => {
    server = await startServer();
    const { port } = server;
    const context = (): string => `stdout: ${server!.stdout()}\nstderr: ${server!.stderr()}`;

    expect(await exchange(port)).toBe('allocated'); // the first client's handler allocates

    const high = await until(port, 'ECONNREFUSED', 2000);
    expect({ outcome: high[high.length - 1], context: context() }).toEqual({ outcome: 'ECONNREFUSED', context: context() });
    // Served, refused, or reset (a client the kernel had queued as the listening socket closed,
    // as src/source/listen.ts documents); never hung.
    expect(high.filter((o) => !ANSWERS.includes(o))).toEqual([]);

    const low = await until(port, 'hi', 5000);
    expect({ outcome: low[low.length - 1], context: context() }).toEqual({ outcome: 'hi', context: context() });
    expect(low.filter((o) => !ANSWERS.includes(o))).toEqual([]);

    const overloads = server.stderr().split('\n').filter((line) => line.startsWith('overload: heapUsed'));
    expect(overloads).toHaveLength(1);
    expect(overloads[0]).toMatch(/^overload: heapUsed [\d.]+MiB is above 80MiB; not accepting until it is at or below 40MiB\./);
    expect(server.stderr()).not.toMatch(/heap out of memory|FATAL ERROR/);

    // Still the same live process: never killed (by V8's heap limit or anything else).
    expect(server.child.exitCode).toBeNull();
    expect(server.child.signalCode).toBeNull();
    expect(() => process.kill(server!.child.pid!, 0)).not.toThrow();
    expect(await exchange(port)).toBe('hi');
    expect(server.stdout()).toMatch(/allocated: heap \d+ -> \d+ MiB\n(.|\n)*released: heap \d+ MiB/); // it freed the memory (and accepted again after)
  });
});
