/*
 * The seed's procedure in small: the demo server under `ulimit -n 64`, flooded from this
 * process with more connections than it has descriptors (bounded: 150, on loopback).
 */
import type { Socket } from 'node:net';
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
