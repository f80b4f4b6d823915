/*
 * The seed's procedure in small: the demo server under `ulimit -n 64`, flooded from this
 * process with more connections than it has descriptors (bounded: 150, on loopback).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { connect, sleep } from './support/net';
import { httpGet, startDemo, stopDemo, type Demo } from './support/demo';

const FLOOD = 150;

async function flood(port: number): Promise<Socket[]> {
  const attempts = await Promise.allSettled(
    Array.from({ length: FLOOD }, async () => {
      const socket = await connect(port);
      socket.on('error', () => undefined);
      socket.write('GET /flood HTTP/1.1\r\nHost: x\r\n\r\n');
      return socket;
    }),
  );
  return attempts.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])); // refused ones are expected
}

/** A request after the flood, retried (bounded) while the listener resumes. */
async function servedAfter(port: number): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const body = await httpGet(port, '/after-flood').catch(() => '');
    if (body !== '') return body;
    await sleep(100);
  }
  return '';
}

describe('the demo under a file-descriptor flood', () => {
  let demo: Demo | undefined;
  afterEach(() => {
    if (demo?.child.exitCode === null) demo.child.kill('SIGKILL'); // only the process this spec started
  });

  it('does not crash, logs the shortage with its hint, and serves a new client after the flood', async () => {
    demo = await startDemo(['--limit', '200', '--hold-ms', '200'], 64);
    const open = await flood(demo.port);
    await sleep(300);
    expect(demo.child.exitCode).toBeNull();
    expect(demo.stderr()).toMatch(/EMFILE: too many open files/);
    expect(demo.stderr()).toMatch(/ulimit -n/);
    expect(demo.stderr()).toMatch(/RXJS_LISTEN_FILE_LIMIT/); // limit 200 cannot fit in 64 files

    open.forEach((s) => s.destroy());
    expect(await servedAfter(demo.port)).toContain('hello from rxjs-listen, GET /after-flood');
    expect(demo.child.exitCode).toBeNull();
    expect(await stopDemo(demo)).toBe(0); // graceful shutdown
  }, 30_000);

  it('logs the shortage as JSON lines with structured fields under --log json', async () => {
    demo = await startDemo(['--limit', '200', '--log', 'json'], 64);
    const open = await flood(demo.port);
    await sleep(300);
    const entries = demo
      .stderr()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.length).toBeGreaterThan(0);
    expect(entries[0]).toMatchObject({ level: 40, code: 'EMFILE', syscall: 'accept', during: 'accept', suppressed: 0, pauseMs: 500 });
    expect(entries[0]!.hint).toMatch(/ulimit -n/);
    open.forEach((s) => s.destroy());
    expect(await stopDemo(demo)).toBe(0);
  }, 30_000);
});

describe('a handler that meets EMFILE (child process under ulimit -n 64)', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child?.exitCode === null) child.kill('SIGKILL'); // only the process this spec started
  });

  /** Starts a fixture server under `ulimit -n 64`; its stderr is collected as it comes. */
  async function startFixture(name: string): Promise<{ port: number; stderr: () => string }> {
    const script = join(__dirname, 'fixtures', name);
    child = spawn('bash', ['-c', `ulimit -n 64 && exec "${process.execPath}" "${script}"`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    return { port: Number(/:(\d+)/.exec(line.toString())![1]), stderr: () => stderr };
  }

  it('treats it as a shortage: logs it a bounded number of times, pauses, and recovers', async () => {
    const { port, stderr } = await startFixture('files-server.js');

    const started = Date.now();
    const open = await flood(port);
    await sleep(400);
    const seconds = (Date.now() - started) / 1000;
    const shortages = stderr().split('\n').filter((l) => /EMFILE: too many open files, open/.test(l));
    expect(child!.exitCode).toBeNull();
    expect(shortages.length).toBeGreaterThan(0);
    expect(shortages[0]).toMatch(/ulimit -n/);
    expect(shortages.length).toBeLessThanOrEqual(1 + Math.ceil(seconds / 0.3)); // one per 300 ms window at most
    expect(stderr()).not.toMatch(/connection handler failed/); // not reported per connection

    open.forEach((s) => s.destroy());
    expect(await greetedWithin5s(port)).toBe('ok\n');
  }, 30_000);

  it('resumes as soon as its connections close, not at the end of the pause', async () => {
    const { port, stderr } = await startFixture('relief-server.js');

    // Connect (bounded) until the listener pauses on the shortage: refused from then on.
    const open: Socket[] = [];
    for (let i = 0; i < 80 && !/EMFILE/.test(stderr()); i++) {
      const socket = await connect(port).catch(() => undefined);
      if (socket === undefined) break;
      socket.on('error', () => undefined);
      open.push(socket);
      await sleep(5);
    }
    for (let i = 0; i < 100 && !/EMFILE/.test(stderr()); i++) await sleep(20);
    expect(stderr()).toMatch(/EMFILE: too many open files/);
    expect(await greet(port)).toBe(''); // paused: a minute, unless relieved

    open.forEach((s) => s.destroy());
    expect(await greetedWithin5s(port)).toBe('ok\n'); // within 5 s of a 60 s pause: relief, from the closes
  }, 30_000);
});

/** The server's first line, retried every 100 ms for 5 s while the listener resumes ('' if never). */
async function greetedWithin5s(port: number): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const greeting = await greet(port);
    if (greeting !== '') return greeting;
    await sleep(100);
  }
  return '';
}

/** The server's first line, or '' if the connection fails, closes or stays silent for 1 s. */
function greet(port: number): Promise<string> {
  return connect(port).then(
    (socket) =>
      new Promise<string>((resolve) => {
        const done = (text: string) => {
          socket.destroy();
          resolve(text);
        };
        socket.setTimeout(1000, () => done(''));
        socket.once('data', (data: Buffer) => done(data.toString()));
        socket.once('close', () => done(''));
        socket.on('error', () => done(''));
      }),
    () => '',
  );
}
