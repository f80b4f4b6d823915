/*
 * The demo's --proxy-protocol behind real balancers, as a user would run them: HAProxy
 * (`send-proxy-v2`, mode http) and nginx's stream module (`proxy_protocol on`, v1) in front of
 * the demo with --per-peer 2 --queue-size 0. Clients on 127.0.0.2 and 127.0.0.3 (loopback source
 * addresses) go through the balancer, which reaches the demo from 127.0.0.1 (trusted): the app
 * sees each client's own address (X-Client-Address) and the per-peer limit counts it, not the
 * balancer. And the header is never believed otherwise: a client connecting directly from an
 * untrusted address with a forged header, or from the trusted address without one, gets no
 * answer at all.
 *
 * Each balancer runs as this user, in the foreground, from a temporary directory (removed
 * afterwards) on a free port of 127.0.0.1, and is stopped by its PID, as is the demo. Each part
 * is skipped, saying why, when its balancer is not on PATH (or nginx lacks its stream module:
 * Debian's libnginx-mod-stream; NGINX_STREAM_MODULE=/path/to/ngx_stream_module.so names one
 * elsewhere).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemo, stopDemo, type Demo } from '../support/demo';
import { freePort, later } from '../support/net';

const HOLD_MS = 600;
/** One demo's flags for every part: the header read from 127.0.0.1 and ::1 (the default trusted proxies). */
const DEMO_FLAGS = ['--proxy-protocol', '--per-peer', '2', '--queue-size', '0', '--hold-ms', String(HOLD_MS), '--limit', '100'];

const onPath = (command: string, args: string[]): boolean => spawnSync(command, args, { stdio: 'ignore' }).error === undefined;

const haproxyOnPath = onPath('haproxy', ['-v']);

/** How nginx gets its stream module: built in, a dynamic module to load, or missing (why). */
function nginxStream(): { ok: true; loadModule: string | undefined } | { ok: false; why: string } {
  const version = spawnSync('nginx', ['-V'], { encoding: 'utf8' });
  if (version.error !== undefined) return { ok: false, why: 'nginx is not on PATH' };
  const configure = `${version.stdout}${version.stderr}`;
  if (/--with-stream(\s|$)/.test(configure)) return { ok: true, loadModule: undefined }; // compiled in
  if (!/--with-stream=dynamic/.test(configure)) return { ok: false, why: 'this nginx was built without the stream module' };
  const modules = /--modules-path=(\S+)/.exec(configure)?.[1] ?? '/usr/lib/nginx/modules';
  const module = process.env.NGINX_STREAM_MODULE ?? join(modules, 'ngx_stream_module.so');
  if (!existsSync(module)) return { ok: false, why: `nginx's stream module is missing (no ${module}): apt-get install libnginx-mod-stream` };
  return { ok: true, loadModule: module };
}
const stream = nginxStream();

/** Whether a TCP connection to 127.0.0.1:port is accepted (closed at once). */
function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(1000, () => socket.destroy(new Error('timed out')));
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** Polls every 50 ms, at most 5 s, until `ready`; throws with the process's stderr if it exits first. */
async function waitReady(what: string, child: ChildProcess, stderr: () => string, ready: () => Promise<boolean> | boolean): Promise<void> {
  for (const start = Date.now(); Date.now() - start < 5000; await later(50)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}): ${stderr()}`);
    if (await ready()) return;
  }
  throw new Error(`${what} did not start within 5 s: ${stderr()}`);
}

/** Sends `signals` one after the other by PID until the process has exited, each given `ms`. */
async function stopByPid(child: ChildProcess | undefined, signals: NodeJS.Signals[], ms: number): Promise<void> {
  for (const signal of signals) {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await Promise.race([exited, later(ms)]);
  }
}

/** What a client got: a status and the address the app saw, or the error that ended its request. */
interface Answer {
  status?: number;
  client?: string;
  error?: string;
  /** When the answer (or the error) arrived, ms since the epoch. */
  at: number;
}

/** GET on its own connection (`agent: false`) from `localAddress`; never rejects, resolves within 5 s. */
function request(port: number, localAddress: string, path: string): Promise<Answer> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, localAddress, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, client: res.headers['x-client-address'] as string | undefined, at: Date.now() }));
      res.on('error', (error: NodeJS.ErrnoException) => resolve({ status: res.statusCode!, error: error.code ?? error.message, at: Date.now() }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message, at: Date.now() }));
  });
}

/**
 * The scenario of both balancers: three simultaneous requests from 127.0.0.2 (each on its own
 * connection) and, while those admitted are held, one from 127.0.0.3. Resolves with the answers
 * of the three, the 127.0.0.3 one, and when that one was sent.
 */
async function threePlusOne(port: number): Promise<{ fromTwo: Answer[]; fromThree: Answer; threeSentAt: number }> {
  const pending = [1, 2, 3].map((i) => request(port, '127.0.0.2', `/two-${i}`));
  // The refused one comes back at once; the others are held HOLD_MS. Send 127.0.0.3 then (or
  // after a third of the hold at most, if nothing came back), while the two are held.
  await Promise.race([Promise.race(pending), later(HOLD_MS / 3)]);
  const threeSentAt = Date.now();
  const fromThree = await request(port, '127.0.0.3', '/three');
  return { fromTwo: await Promise.all(pending), fromThree, threeSentAt };
}

/** An answer as the assertions compare it: served, and as whom, or not served (any other outcome). */
const served = (a: Answer): string => (a.status === 200 ? `200 X-Client-Address: ${a.client}` : 'not served');

/**
 * The assertions both balancers share: two of the three from 127.0.0.2 served as 127.0.0.2, the
 * third not (the balancer's answer, whatever it is, is not a 200), 127.0.0.3 served as itself,
 * sent while the two were held. A failure shows every answer and the balancer's `log`.
 */
function expectThreePlusOne({ fromTwo, fromThree, threeSentAt }: Awaited<ReturnType<typeof threePlusOne>>, log: string): void {
  try {
    expect({ fromTwo: fromTwo.map(served).sort(), fromThree: served(fromThree) }).toEqual({
      fromTwo: ['200 X-Client-Address: 127.0.0.2', '200 X-Client-Address: 127.0.0.2', 'not served'],
      fromThree: '200 X-Client-Address: 127.0.0.3', // counted as its own address, not as the balancer's
    });
    // 127.0.0.3 was sent while both 127.0.0.2 requests were still held.
    expect(fromTwo.filter((a) => a.status === 200).every((a) => a.at > threeSentAt)).toBe(true);
  } catch (error) {
    (error as Error).message += `\nthe answers: ${JSON.stringify({ fromTwo, fromThree, threeSentAt })}\n${log}`;
    throw error;
  }
}

const haproxyTitle = haproxyOnPath
  ? 'HAProxy (mode http, send-proxy-v2) in front of the demo with --proxy-protocol --per-peer 2 --queue-size 0'
  : 'HAProxy in front of the demo with --proxy-protocol (skipped: haproxy is not on PATH; .ci/run installs it)';
(haproxyOnPath ? describe : describe.skip)(haproxyTitle, () => {
  let dir: string | undefined;
  let demo: Demo | undefined;
  let haproxy: ChildProcess | undefined;
  let haproxyStderr = '';
  let port = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rxjs-listen-proxy-haproxy-'));
    demo = await startDemo(DEMO_FLAGS);
    port = await freePort();
    writeFileSync(
      join(dir, 'haproxy.cfg'),
      `global
  log stderr format raw local0 info
defaults
  mode http
  log global
  option httplog
  option dontlognull
  timeout connect 3s
  timeout client 5s
  timeout server 5s
  # A request the demo refuses (closed) is answered by HAProxy, never sent again.
  retries 0
  # One server-side connection per client connection, closed after its response: the demo's
  # per-peer limit counts connections, by the address in each one's header.
  option http-server-close
  http-reuse never
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  server demo 127.0.0.1:${demo.port} send-proxy-v2
`,
    );
    haproxy = spawn('haproxy', ['-f', join(dir, 'haproxy.cfg'), '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
    haproxy.stderr!.on('data', (chunk: Buffer) => (haproxyStderr += chunk.toString()));
    await waitReady('haproxy', haproxy, () => haproxyStderr, () => canConnect(port));
  });

  afterAll(async () => {
    await stopByPid(haproxy, ['SIGTERM', 'SIGKILL'], 3000);
    if (demo) await Promise.race([stopDemo(demo), later(3000).then(() => demo!.child.kill('SIGKILL'))]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("two of three simultaneous requests from 127.0.0.2 are served as 127.0.0.2, the third is refused (HAProxy answers 502/503), and 127.0.0.3 is served as itself meanwhile", async () => {
    // The refused one: HAProxy answers 502 (or 503), its log saying SH-- (the server closed first).
    expectThreePlusOne(await threePlusOne(port), `HAProxy's log:\n${haproxyStderr}`);
  });
});

const nginxTitle = stream.ok
  ? "nginx's stream module (proxy_protocol on, v1) in front of the demo with --proxy-protocol --per-peer 2 --queue-size 0"
  : `nginx's stream module in front of the demo with --proxy-protocol (skipped: ${stream.why})`;
(stream.ok ? describe : describe.skip)(nginxTitle, () => {
  let dir: string | undefined;
  let demo: Demo | undefined;
  let nginx: ChildProcess | undefined;
  let nginxStderr = '';
  let port = 0;
  const errorLog = (): string => (dir && existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rxjs-listen-proxy-nginx-'));
    chmodSync(dir, 0o755); // run as root, nginx's worker is `nobody`
    demo = await startDemo(DEMO_FLAGS);
    port = await freePort();
    const loadModule = stream.ok && stream.loadModule !== undefined ? `load_module ${stream.loadModule};\n` : '';
    writeFileSync(
      join(dir, 'nginx.conf'),
      `${loadModule}daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 64; }
stream {
  server {
    listen 127.0.0.1:${port};
    proxy_pass 127.0.0.1:${demo.port};
    proxy_protocol on;
    proxy_connect_timeout 3s;
    proxy_timeout 5s;
  }
}
`,
    );
    // -e: the error log before the configuration is read (else Debian's /var/log/nginx).
    nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
    nginx.stderr!.on('data', (chunk: Buffer) => (nginxStderr += chunk.toString()));
    // The master writes its pid file once its listening socket is open (no probe connection,
    // which would reach the demo through the stream proxy).
    await waitReady('nginx', nginx, () => `${nginxStderr}${errorLog()}`, () => existsSync(join(dir!, 'nginx.pid')));
  });

  afterAll(async () => {
    // SIGQUIT (graceful), then SIGTERM (fast): the master stops its worker either way; SIGKILL
    // only as the last resort (it would leave the worker behind).
    await stopByPid(nginx, ['SIGQUIT', 'SIGTERM', 'SIGKILL'], 3000);
    if (demo) await Promise.race([stopDemo(demo), later(3000).then(() => demo!.child.kill('SIGKILL'))]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('two of three simultaneous connections from 127.0.0.2 are served as 127.0.0.2, the third is closed without an answer, and 127.0.0.3 is served as itself meanwhile', async () => {
    // The refused one: a stream proxy has no status to give, the client's connection is just closed (reset).
    const result = await threePlusOne(port);
    expectThreePlusOne(result, `nginx's error log:\n${errorLog()}`);
  });
});

/** Connects from `localAddress`, writes `bytes`, and resolves with what came back once the connection closed (at most 4 s). */
function exchange(port: number, localAddress: string, bytes: string): Promise<{ received: string; closed: boolean; ms: number }> {
  return new Promise((resolve) => {
    const start = Date.now();
    let received = '';
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ received, closed: false, ms: Date.now() - start });
    }, 4000);
    socket.once('connect', () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.on('error', () => {}); // a reset: 'close' follows
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ received, closed: true, ms: Date.now() - start });
    });
  });
}

describe('the demo with --proxy-protocol never believes a header from anyone but its trusted proxies', () => {
  let demo: Demo | undefined;

  beforeAll(async () => {
    demo = await startDemo(DEMO_FLAGS);
  });

  afterAll(async () => {
    if (demo) await Promise.race([stopDemo(demo), later(3000).then(() => demo!.child.kill('SIGKILL'))]);
  });

  it('a client on 127.0.0.2 (not trusted) connecting directly with a forged PROXY header naming 192.0.2.66 gets no answer: the connection is closed', async () => {
    const forged = `PROXY TCP4 192.0.2.66 127.0.0.1 4242 ${demo!.port}\r\nGET /forged HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;
    const outcome = await exchange(demo!.port, '127.0.0.2', forged);
    expect({ received: outcome.received, closed: outcome.closed }).toEqual({ received: '', closed: true });
    expect(outcome.ms).toBeLessThan(2000); // closed at accept, not after the 3 s header timeout
  });

  it('a connection from the trusted 127.0.0.1 without a header (as if it were the balancer) gets no answer either: a header is never guessed', async () => {
    const plain = 'GET /no-header HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';
    const outcome = await exchange(demo!.port, '127.0.0.1', plain);
    expect({ received: outcome.received, closed: outcome.closed }).toEqual({ received: '', closed: true });
    expect(outcome.ms).toBeLessThan(2000); // refused as invalid at once, not after the header timeout
  });
});
