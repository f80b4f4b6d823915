/*
 * The seed's procedure in small: the demo server under `ulimit -n 64`, flooded from this
 * process with more connections than it has descriptors (bounded: 150, on loopback).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { get } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { connect, sleep } from './support/net';

const FLOOD = 150;
const demo = join(__dirname, '..', 'build', 'demo', 'server.js');

function request(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/after-flood', timeout: 3000, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
  });
}

describe('the demo under a file-descriptor flood', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child?.exitCode === null) child.kill('SIGKILL'); // only the process this spec started
  });

  it('does not crash, logs the shortage with its hint, and serves a new client after the flood', async () => {
    child = spawn('bash', ['-c', `ulimit -n 64 && exec "${process.execPath}" "${demo}" --port 0 --limit 200 --hold-ms 200`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const deadline = new Promise<[string]>((resolve) => setTimeout(() => resolve(['timeout']), 10_000).unref());
    const [line] = (await Promise.race([once(child.stdout!, 'data'), deadline])) as [Buffer | string];
    const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line.toString());
    expect(match).not.toBeNull();
    const port = Number(match![1]);

    // The flood: every client sends a request and stays; refused ones are expected.
    const flood = await Promise.allSettled(
      Array.from({ length: FLOOD }, async () => {
        const socket = await connect(port);
        socket.on('error', () => undefined);
        socket.write('GET /flood HTTP/1.1\r\nHost: x\r\n\r\n');
        return socket;
      }),
    );
    const open = flood.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    await sleep(300);
    expect(child.exitCode).toBeNull();
    expect(stderr).toMatch(/EMFILE: too many open files/);
    expect(stderr).toMatch(/ulimit -n/);
    expect(stderr).toMatch(/RXJS_LISTEN_FILE_LIMIT/); // limit 200 cannot fit in 64 files

    // After the flood: a new client is served (bounded retries while the listener resumes).
    open.forEach((s: Socket) => s.destroy());
    let body = '';
    for (let attempt = 0; attempt < 50 && body === ''; attempt++) {
      body = await request(port).catch(async () => {
        await sleep(100);
        return '';
      });
    }
    expect(body).toContain('hello from rxjs-listen, GET /after-flood');
    expect(child.exitCode).toBeNull();

    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0); // graceful shutdown
  }, 30_000);
});
