/* Listening again after a pause, when the port is not only ours: shared with other processes
 * (reusePort), or no longer ours to bind (privileges dropped: EACCES). Real sockets on
 * loopback, child processes killed by their PID, every wait bounded. */
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type ListenOptions as NetListenOptions, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, share, type Subscription } from 'rxjs';
import { startScript, stopDemo, type Demo } from '../support/demo';
import { connect, connectOutcome, first, WAIT_MS } from '../support/net';
import { type Accepted, type AcceptFailed, fromServer, handleErrors, listen, ListenError } from '../../src';

const fixtures = join(__dirname, '..', 'fixtures');

/** server.listen({ reusePort }) exists since Node 22.12 and 23.1 (older Node ignores it); Linux has SO_REUSEPORT. */
const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
const supportsReusePort = process.platform === 'linux' && (major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12));
const itReusePort = supportsReusePort ? it : it.skip;

/** What `promise` resolves with, or `late` after WAIT_MS (the timer cleared either way). */
async function within<T, L>(promise: Promise<T>, late: L): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<L>((resolve) => (timer = setTimeout(() => resolve(late), WAIT_MS)));
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Connects and reads the server's greeting line: which process of the group answered. */
async function greet(port: number): Promise<{ name: string; socket: Socket }> {
  const socket = await connect(port);
  socket.setTimeout(WAIT_MS, () => socket.destroy(new Error('no greeting')));
  const [chunk] = (await once(socket, 'data')) as [Buffer];
  socket.setTimeout(0);
  return { name: chunk.toString().trim(), socket };
}

describe('reusePort: several processes on one port', () => {
  const children: Pick<Demo, 'child'>[] = [];
  const clients: Socket[] = [];
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.destroy());
    await Promise.all(children.splice(0).map(stopDemo));
  });

  async function member(name: string, port: number, limit: number): Promise<number> {
    const started = await startScript(join(fixtures, 'reuseport-server.js'), [name, String(port), String(limit)]);
    children.push(started);
    const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(started.line);
    if (!match) throw new Error(`${name} did not start: ${started.line} ${started.stderr()}`);
    return Number(match[1]);
  }

  /** Greets until `name` answers (the kernel picks a member per connection), holding every client. */
  async function until(port: number, name: string, tries: number): Promise<Socket | undefined> {
    for (let i = 0; i < tries; i++) {
      const { name: answered, socket } = await greet(port);
      clients.push(socket);
      if (answered === name) return socket;
    }
    return undefined;
  }

  itReusePort(
    'spreads clients over two processes; one paused at its limit leaves the group, the other gets every new client, and it rejoins on resume (Node >= 22.12 on Linux only)',
    async () => {
      const port = await member('a', 0, 1);
      expect(await member('b', port, 500)).toBe(port); // without SO_REUSEPORT: EADDRINUSE
      // a's first client fills its limit: a pauses, closing its socket (it leaves the group).
      // Each miss has probability 1/2 (the kernel hashes the client's address and port).
      const atA = await until(port, 'a', 64);
      expect(atA).toBeDefined();
      for (let i = 0; i < 20; i++) {
        const { name, socket } = await greet(port);
        clients.push(socket);
        expect(name).toBe('b');
      }
      // Releasing a's client resumes a: it listens again with reusePort (without it: EADDRINUSE,
      // retried forever) and gets its share again.
      atA!.destroy();
      expect(await until(port, 'a', 64)).toBeDefined();
    },
    WAIT_MS * 10,
  );

  itReusePort("keeps a fromServer server's reusePort when listening again (Node >= 22.12 on Linux only)", async () => {
    const listenOn = (server: Server, port: number) =>
      new Promise<void>((resolve, reject) => server.once('error', reject).listen({ host: '127.0.0.1', port, reusePort: true } as NetListenOptions, resolve));
    const owned = createServer();
    const other = createServer((s) => s.destroy());
    await listenOn(owned, 0);
    const { port } = owned.address() as AddressInfo;
    await listenOn(other, port);
    const results = fromServer(owned, { reusePort: true, retryDelay: 10 }).pipe(share());
    const failures: AcceptFailed[] = [];
    const subscription = results.pipe(filter((r): r is AcceptFailed => r.type === 'error')).subscribe((f) => failures.push(f));
    try {
      const accepted = first(results.pipe(filter((r): r is Accepted => r.type === 'connection')));
      // The kernel spreads clients over both servers: connect until one reaches `owned`.
      const reached = () => new Promise<Server>((resolve) => {
        const done = (server: Server) => () => {
          owned.off('connection', atOwned);
          other.off('connection', atOther);
          resolve(server);
        };
        const atOwned = done(owned);
        const atOther = done(other);
        owned.on('connection', atOwned);
        other.on('connection', atOther);
      });
      for (let i = 0; i < 64; i++) {
        const seen = reached();
        clients.push(await connect(port));
        if ((await seen) === owned) break;
      }
      const { listener } = await accepted;
      const resume = listener.pause('test');
      expect(owned.listening).toBe(false);
      const listening = once(owned, 'listening');
      resume();
      await listening; // without reusePort: EADDRINUSE, `other` holds the port
      expect((owned.address() as AddressInfo).port).toBe(port);
      expect(failures).toEqual([]);
    } finally {
      subscription.unsubscribe();
      clients.splice(0).forEach((c) => c.destroy());
      await Promise.all([owned, other].map((s) => new Promise((resolve) => s.close(resolve))));
    }
  });

  it('rejects a reusePort that is not a boolean, or with a Unix socket path, naming the option', () => {
    expect(() => listen({ port: 0, reusePort: 'yes' as never })).toThrow(new TypeError('listen: options.reusePort must be a boolean, got "yes"'));
    expect(() => listen({ port: 0, reusePort: 1 as never })).toThrow(new TypeError('listen: options.reusePort must be a boolean, got 1'));
    expect(() => listen({ path: '/tmp/x.sock', reusePort: true })).toThrow(new TypeError('listen: options.reusePort applies to a TCP port, not to options.path'));
    expect(() => fromServer(createServer(), { reusePort: null as never })).toThrow(new TypeError('fromServer: options.reusePort must be a boolean, got null'));
  });
});

/*
 * A real EACCES on resume needs a process that may bind something at start and not later. As
 * root: bind a port below 1024, drop to `nobody` (the scenario the hint is about). As another
 * user: a Unix socket whose directory is made read-only while paused (root ignores directory
 * permissions, so each test runs where the other cannot).
 */
const asRoot = process.getuid?.() === 0;
const unprivilegedPortStart = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
  } catch {
    return 1024;
  }
})();
const canDropPrivileges = asRoot && process.platform === 'linux' && unprivilegedPortStart > 1000 && spawnSync(process.execPath, ['-e', 'process.setgid(65534); process.setuid(65534)']).status === 0;
const itDroppingPrivileges = canDropPrivileges ? it : it.skip;
const itUnprivileged = process.platform === 'linux' && !asRoot ? it : it.skip;

/** A free port below 1024 on 127.0.0.1 (as root). */
async function privilegedPort(): Promise<number> {
  for (let port = 1023; port > 1000; port--) {
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => server.once('error', () => resolve(false)).listen(port, '127.0.0.1', () => resolve(true)));
    if (bound) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
  }
  throw new Error('no free port between 1001 and 1023');
}

describe('listening again refused for good (EACCES)', () => {
  itDroppingPrivileges(
    'ends the stream with a ListenError and its hint when a server that dropped privileges cannot bind its port below 1024 again (as root on Linux only)',
    async () => {
      const port = await privilegedPort();
      const server = await startScript(join(fixtures, 'privileged-server.js'), [String(port)]);
      try {
        expect(server.line).toBe(`listening on http://127.0.0.1:${port} as uid 65534`);
        const client = await connect(port);
        await once(client, 'data'); // served; the limit (1) paused the server: its port is closed
        expect(await connectOutcome(port)).toBe('ECONNREFUSED');
        const exited = once(server.child, 'exit');
        client.destroy(); // frees the slot: the server listens again, as nobody
        const [code] = await within(exited, ['still running']);
        expect(code).toBe(3);
        expect(server.stderr()).toMatch(/ListenError \(resume\): listen EACCES: permission denied 127\.0\.0\.1:\d+\. Listening again after a pause was refused.*CAP_NET_BIND_SERVICE.*#eacces-or-eperm-when-listening-again/);
      } finally {
        await stopDemo(server);
      }
    },
    WAIT_MS * 4,
  );

  describe('on a Unix socket', () => {
    let dir: string;
    let subscription: Subscription | undefined;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'rxjs-listen-'))));
    afterEach(() => {
      subscription?.unsubscribe();
      chmodSync(dir, 0o700);
      rmSync(dir, { recursive: true, force: true });
    });

    itUnprivileged("ends the stream with a ListenError when the socket's directory may no longer be written (not as root)", async () => {
      const path = join(dir, 'server.sock');
      const accepted = listen({ path }).pipe(handleErrors(10), share());
      let ended: (error: unknown) => void = () => undefined;
      const streamError = new Promise<unknown>((resolve) => (ended = resolve));
      const connection = first(accepted);
      subscription = accepted.subscribe({ error: (e: unknown) => ended(e) });
      const client = await connect(path);
      const { listener, socket } = await connection;
      const resume = listener.pause('test');
      chmodSync(dir, 0o500); // the socket file is gone while paused: it cannot be created again
      resume();
      const error = await within(streamError, 'the stream did not end');
      expect(error).toBeInstanceOf(ListenError);
      expect(error).toMatchObject({ code: 'EACCES', syscall: 'listen', during: 'resume' });
      expect((error as ListenError).hint).toMatch(/^Listening again after a pause was refused.*#eacces-or-eperm-when-listening-again$/);
      client.destroy();
      socket.destroy();
    });
  });
});
