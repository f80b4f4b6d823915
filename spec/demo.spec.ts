/* The demo's own behaviour from outside: serving, bad flags, per-peer and idle limits. */
import { get } from 'node:http';
import { connect, connectOutcome, sleep } from './support/net';
import { httpGet, startDemo, stopDemo, type Demo } from './support/demo';
import { spawnSync } from 'node:child_process';
import type { Socket } from 'node:net';
import { join } from 'node:path';

describe('the demo server', () => {
  let demo: Demo | undefined;
  afterEach(() => {
    if (demo?.child.exitCode === null) demo.child.kill('SIGKILL');
  });

  it('serves HTTP and exits 0 on SIGTERM', async () => {
    demo = await startDemo([]);
    expect(await httpGet(demo.port, '/hi')).toBe('hello from rxjs-listen, GET /hi\n');
    expect(await stopDemo(demo)).toBe(0);
  });

  it('serves where node forbids code generation from strings (the socket records fall back to closures)', async () => {
    demo = await startDemo(['--limit', '2', '--queue-size', '4', '--stats'], undefined, ['--disallow-code-generation-from-strings']);
    const bodies = await Promise.all(['/a', '/b', '/c', '/d'].map((path) => httpGet(demo!.port, path)));
    expect(bodies).toEqual(['/a', '/b', '/c', '/d'].map((path) => `hello from rxjs-listen, GET ${path}\n`));
    expect(await stopDemo(demo)).toBe(0);
    expect(demo.stderr()).not.toMatch(/EvalError|Code generation from strings/);
  });

  it('prints a stats line a second with --stats', async () => {
    demo = await startDemo(['--stats', '--limit', '9']);
    await httpGet(demo.port, '/counted');
    await sleep(1100);
    expect(demo.stderr()).toMatch(
      /\[stats\] live=0\/9 accepted=1 connection_errors=0 shortages=0 dropped=0 waiting=0\/511 queued=0 admitted_from_queue=0 queue_timeouts=0 gave_up=0 reclaimed=0 in_flight=0\/(\d+|Infinity) shed_requests=0 completed=1 paused=no heap_used_mib=\d+(\.\d)? rss_mib=\d+(\.\d)?/,
    );
    expect(await stopDemo(demo)).toBe(0);
  });

  it('serves a second address while one address holds 50 idle connections (--limit 20 --per-peer 5 --silence-ms 1000)', async () => {
    demo = await startDemo(['--limit', '20', '--per-peer', '5', '--silence-ms', '1000']);
    const idle: Socket[] = [];
    for (let i = 0; i < 50; i++) {
      const socket = await connect(demo.port).catch(() => undefined);
      socket?.on('error', () => undefined);
      socket?.resume(); // those over --per-peer are answered 503 and closed: read to see it
      if (socket) idle.push(socket);
    }
    const started = performance.now();
    expect(await httpGet(demo.port, '/other', '127.0.0.2')).toContain('GET /other');
    expect(performance.now() - started).toBeLessThan(1000);
    // The idle ones are closed by the idle timeout (bounded wait).
    await sleep(1500);
    expect(idle.filter((s) => !s.destroyed && s.readyState === 'open').length).toBe(0);
    idle.forEach((s) => s.destroy());
    expect(await stopDemo(demo)).toBe(0);
  }, 20_000);

  it('closes a slowloris client that trickles a byte less often than --silence-ms, freeing its slot', async () => {
    demo = await startDemo(['--limit', '1', '--silence-ms', '500']);
    const slow = await connect(demo.port);
    slow.on('error', () => undefined);
    const trickle = setInterval(() => slow.write('G'), 800);
    const started = performance.now();
    try {
      await new Promise((resolve) => slow.once('close', resolve));
    } finally {
      clearInterval(trickle);
    }
    expect(performance.now() - started).toBeLessThan(2000);
    // Its slot is free again: with --limit 1, a new client is served.
    expect(await httpGet(demo.port, '/after-slowloris').catch(async () => (await sleep(200), httpGet(demo!.port, '/after-slowloris')))).toContain('after-slowloris');
    expect(await stopDemo(demo)).toBe(0);
  }, 20_000);

  it.each([
    [['--limit', '0'], /^demo: --limit must be an integer >= 1, got 0\n$/],
    [['--port', '70000'], /^demo: --port must be an integer between 0 and 65535, got 70000\n$/],
    [['--port', '-1'], /^demo: --port must be an integer between 0 and 65535, got -1\n$/],
    [['--port', '0x1F90'], /^demo: --port must be an integer, got "0x1F90"\n$/],
    [['--proxy-protocol', '--trusted-proxies', 'nope'], /^demo: --trusted-proxies entry "nope": "nope" is not an IPv4 or IPv6 address\n$/],
    [['--pause-ms=-1'], /--pause-ms must be an integer/],
    [['--log', 'xml'], /--log must be text or json, got "xml"/],
    [['--queue-size=-1'], /^demo: --queue-size must be an integer >= 0, got -1\n$/],
    [['--queue-timeout-ms', '0'], /^demo: --queue-timeout-ms must be an integer >= 1, got 0\n$/],
    [['--max-elu', '1.5'], /^demo: --max-elu must be a number above 0 and at most 1, got 1.5\n$/],
    [['--busy-ms', '1.5'], /^demo: --busy-ms must be an integer, got "1.5"\n$/],
    [['--keep-alive-ms', 'soon'], /^demo: --keep-alive-ms must be an integer, got "soon"\n$/],
    [['--agent-port', '0', '--agent-full-weight-at', '0'], /^demo: --agent-full-weight-at must be an integer >= 1, got 0\n$/],
    [['--agent-full-weight-at', '1000'], /^demo: --agent-full-weight-at weighs the answers on the agent port: give --agent-port too\n$/],
    [['--nope', '1'], /Unknown option '--nope'/],
  ])('rejects %p with exit status 2 and a message naming the flag', (args, message) => {
    const run = spawnSync(process.execPath, [join(__dirname, '..', 'build', 'demo', 'server.js'), ...args], { encoding: 'utf8', timeout: 10_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it('runs a cluster with --workers 2: both serve, each with its own limit, and the port refuses while both are paused', async () => {
    demo = await startDemo(['--workers', '2', '--limit', '1', '--queue-size', '0', '--hold-ms', '800']);
    const port = demo.port;
    const first = httpGetWithWorker(port);
    await sleep(100);
    const second = httpGetWithWorker(port);
    await sleep(200);
    // Each worker holds one connection, its limit: both left the rotation, the primary closed the port.
    expect(await connectOutcome(port)).toBe('ECONNREFUSED');
    const served = await Promise.all([first, second]);
    expect(new Set(served).size).toBe(2);
    // Resumed: served again, by both workers in turn.
    const workers = new Set<string>();
    for (let i = 0; i < 6; i++) workers.add(await httpGetWithWorker(port));
    expect(workers.size).toBe(2);
    expect(await stopDemo(demo)).toBe(0);
  }, 20_000);
});

/** GET /, resolving with the pid of the worker that served it (retried while it resumes). */
async function httpGetWithWorker(port: number): Promise<string> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const pid = await new Promise<string | undefined>((resolve) => {
      const req = get({ host: '127.0.0.1', port, agent: false, timeout: 3000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.headers['x-served-by'])));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(undefined));
    });
    if (pid !== undefined) return pid;
    await sleep(20);
  }
  throw new Error('not served');
}
