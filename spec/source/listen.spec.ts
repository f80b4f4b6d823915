import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, ReplaySubject, share, Subject, type Subscription } from 'rxjs';
import { connect, connectOutcome, first, sleep, WAIT_MS } from '../support/net';
import { type Accepted, type AcceptFailed, type AcceptResult, fromServer, listen, ListenError } from '../../src';
import { readOpenFileLimit } from '../../src/errors';

/** Subscribes to a listener, collecting its results and its bound address. */
function start(source: (onListening: (address: AddressInfo | string) => void) => import('rxjs').Observable<AcceptResult>) {
  const results = new ReplaySubject<AcceptResult>();
  const address = new Subject<AddressInfo | string>();
  const ready = first(address);
  const subscription = source((a) => address.next(a)).subscribe(results);
  const connections = results.pipe(filter((r): r is Accepted => r.type === 'connection'));
  const failures = results.pipe(filter((r): r is AcceptFailed => r.type === 'error'));
  return { results, ready, subscription, connections, failures };
}

/** Everything `source` emits (replayed ones included) within `ms`. */
async function collectFor<T>(source: import('rxjs').Observable<T>, ms: number): Promise<T[]> {
  const seen: T[] = [];
  const subscription = source.subscribe((v) => seen.push(v));
  await sleep(ms);
  subscription.unsubscribe();
  return seen;
}

function bind(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('listen on TCP', () => {
  const clients: Socket[] = [];
  let subscription: Subscription | undefined;
  afterEach(() => {
    subscription?.unsubscribe();
    clients.splice(0).forEach((c) => c.destroy());
  });

  it('emits accepted connections as values', async () => {
    const l = start((onListening) => listen({ host: '127.0.0.1', port: 0, onListening }));
    subscription = l.subscription;
    const { port } = (await l.ready) as AddressInfo;
    expect(port).toBeGreaterThan(0);
    const accepted = first(l.connections);
    clients.push(await connect(port));
    const { socket, listener } = await accepted;
    expect(socket.remoteAddress).toBe('127.0.0.1');
    expect(listener.pauses).toEqual([]);
    socket.destroy();
  });

  it('closes the listener on unsubscribe, so the port can be bound again at once', async () => {
    const l = start((onListening) => listen({ host: '127.0.0.1', port: 0, onListening }));
    const { port } = (await l.ready) as AddressInfo;
    l.subscription.unsubscribe();
    expect(await connectOutcome(port)).toBe('ECONNREFUSED');
    await close(await bind(port));
  });

  it('pauses (refusing clients) and resumes on the same port when started on port 0; reasons combine', async () => {
    const l = start((onListening) => listen({ host: '127.0.0.1', port: 0, onListening }));
    subscription = l.subscription;
    const { port } = (await l.ready) as AddressInfo;
    const accepted = first(l.connections);
    clients.push(await connect(port));
    const { listener, socket } = await accepted;

    const resumeShortage = listener.pause('shortage');
    const resumeLimit = listener.pause('limit');
    expect(listener.pauses).toEqual(['shortage', 'limit']);
    expect(await connectOutcome(port)).toBe('ECONNREFUSED');
    resumeShortage();
    resumeShortage(); // twice is harmless: the limit still holds
    expect(await connectOutcome(port)).toBe('ECONNREFUSED');
    expect(socket.destroyed).toBe(false); // accepted connections are untouched by a pause

    resumeLimit();
    expect(listener.pauses).toEqual([]);
    const next = first(l.connections.pipe(filter((c) => c.socket !== socket)));
    clients.push(await connect(port));
    expect((await next).socket.localPort).toBe(port);
  });

  it('errors with a ListenError and a hint when the port is taken (EADDRINUSE)', async () => {
    const holder = await bind(0);
    const { port } = holder.address() as AddressInfo;
    try {
      const error = await first(listen({ host: '127.0.0.1', port })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ListenError);
      expect(error).toMatchObject({ code: 'EADDRINUSE', syscall: 'listen' });
      expect((error as Error).message).toMatch(/EADDRINUSE.*Another process holds this address.*docs\/errors.md#eaddrinuse/);
    } finally {
      await close(holder);
    }
  });

  it('reports a port taken while paused as a resume failure, retries, and listens again once it is free', async () => {
    const l = start((onListening) => listen({ host: '127.0.0.1', port: 0, retryDelay: 20, onListening }));
    subscription = l.subscription;
    const { port } = (await l.ready) as AddressInfo;
    clients.push(await connect(port));
    const { listener } = await first(l.connections);
    const resume = listener.pause('test');
    const intruder = await bind(port);
    const failure = first(l.failures);
    resume();
    expect(await failure).toMatchObject({ during: 'resume', error: { code: 'EADDRINUSE' } });
    expect(listener.pauses).toEqual(['retry']);
    await close(intruder);
    // Bounded: the retry runs every 20 ms.
    for (let i = 0; i < 100 && (await connectOutcome(port)) !== 'connected'; i++) await sleep(10);
    expect(await connectOutcome(port)).toBe('connected');
  });

  it('reports the open-file shortage Node hides as EMFILE, with a way to tell when it is over', async () => {
    const limit = readOpenFileLimit();
    if (limit === undefined) return; // not Linux: no /proc to read the limit from
    // A headroom as large as the limit puts every descriptor "within reach" of it.
    const l = start((onListening) => listen({ host: '127.0.0.1', port: 0, headroom: limit, onListening }));
    subscription = l.subscription;
    const { port } = (await l.ready) as AddressInfo;
    const shortage = first(l.failures);
    clients.push(await connect(port));
    const failure = await shortage;
    expect(failure.error).toMatchObject({ code: 'EMFILE', errno: -24, syscall: 'accept' });
    expect(failure.error.message).toMatch(/too many open files/);
    expect(failure.relieved).toBeDefined();
    // Resuming checks again, and reports the shortage instead of listening.
    const resumeFailure = first(l.failures.pipe(filter((f) => f.during === 'resume')));
    failure.listener.pause('test')();
    expect(await resumeFailure).toMatchObject({ error: { code: 'EMFILE', syscall: 'listen' } });
  });

  it('notices a shortage that no connection shows (descriptors taken by other work) while listening', async () => {
    const limit = readOpenFileLimit();
    if (limit === undefined) return;
    const l = start((onListening) => listen({ host: '127.0.0.1', port: 0, headroom: limit, checkInterval: 20, onListening }));
    subscription = l.subscription;
    await l.ready;
    const failure = await first(l.failures); // no client has connected
    expect(failure).toMatchObject({ during: 'accept', error: { code: 'EMFILE', syscall: 'accept' } });
    expect(failure.relieved).toBeDefined();
    // Paused (as handleErrors would), the check stays quiet.
    const resume = failure.listener.pause('test');
    const before = (await collectFor(l.failures, 100)).length;
    expect((await collectFor(l.failures, 100)).length).toBe(before);
    resume();
  });

  it('takes an error reported from elsewhere (a handler\'s EMFILE) as an accept error', async () => {
    const l = start((onListening) => listen({ host: '127.0.0.1', port: 0, onListening }));
    subscription = l.subscription;
    const { port } = (await l.ready) as AddressInfo;
    clients.push(await connect(port));
    const { listener } = await first(l.connections);
    const failure = first(l.failures);
    listener.report(Object.assign(new Error('EMFILE: too many open files, open'), { code: 'EMFILE', syscall: 'open' }));
    expect(await failure).toMatchObject({ during: 'accept', error: { code: 'EMFILE', syscall: 'open' } });
  });

  it('survives a server error event: it becomes a value, never a crash', async () => {
    let server: Server | undefined;
    const owned = createServer();
    const l = start((onListening) => fromServer(owned, { onListening }));
    subscription = l.subscription;
    owned.listen(0, '127.0.0.1');
    await l.ready;
    server = owned;
    const failure = first(l.failures);
    server.emit('error', Object.assign(new Error('simulated'), { code: 'EMFILE', syscall: 'accept' }));
    expect(await failure).toMatchObject({ during: 'accept', error: { code: 'EMFILE' } });
    await close(owned);
  });
});

describe('listen on a Unix socket', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'rxjs-listen-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts, pauses (the path disappears), resumes, and frees the path on unsubscribe', async () => {
    const path = join(dir, 'server.sock');
    const l = start((onListening) => listen({ path, onListening }));
    expect(await l.ready).toBe(path);
    const accepted = first(l.connections);
    const client = await connect(path);
    const { listener, socket } = await accepted;
    const resume = listener.pause('test');
    expect(await connectOutcome(path)).toMatch(/ENOENT|ECONNREFUSED/);
    resume();
    const next = first(l.connections.pipe(filter((c) => c.socket !== socket)));
    const client2 = await connect(path);
    await next;
    l.subscription.unsubscribe();
    client.destroy();
    client2.destroy();
    expect(await connectOutcome(path)).toMatch(/ENOENT|ECONNREFUSED/);
    const again = start((onListening) => listen({ path, onListening }));
    expect(await again.ready).toBe(path);
    again.subscription.unsubscribe();
  });
});

describe('fromServer', () => {
  it("watches the caller's server, pauses it, and never closes it on unsubscribe", async () => {
    const server = createServer();
    const seenByOwner: Socket[] = [];
    server.on('connection', (s) => seenByOwner.push(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const results = fromServer(server).pipe(share());
    const accepted = first(results);
    const subscription = results.subscribe();
    const client = await connect(port);
    const result = (await accepted) as Accepted;
    expect(seenByOwner).toHaveLength(1);

    const resume = result.listener.pause('test');
    expect(server.listening).toBe(false);
    expect(await connectOutcome(port)).toBe('ECONNREFUSED');
    const listening = once(server, 'listening');
    resume();
    await listening; // Node resolves the host (an IP here) before binding: a tick, not a lookup
    expect(server.listening).toBe(true);
    expect((server.address() as AddressInfo).port).toBe(port);

    subscription.unsubscribe();
    expect(server.listening).toBe(true);
    expect(server.listenerCount('error')).toBe(0);
    client.destroy();
    result.socket.destroy();
    seenByOwner.forEach((s) => s.destroy());
    await close(server);
  });

  it('starts watching a server that listens later', async () => {
    const server = createServer();
    const subscription = fromServer(server).subscribe();
    const result = first(fromServer(server));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = await connect((server.address() as AddressInfo).port);
    expect((await result).type).toBe('connection');
    subscription.unsubscribe();
    client.destroy();
    await close(server);
  }, WAIT_MS * 2);
});

describe('bad input', () => {
  it.each([
    [{ port: 70000 }, RangeError, 'listen: options.port must be an integer between 0 and 65535, got 70000'],
    [{ port: -1 }, RangeError, 'listen: options.port must be an integer between 0 and 65535, got -1'],
    [{ port: 1.5 }, RangeError, 'got 1.5'],
    [{ port: NaN }, TypeError, 'listen: options.port must be a number, got NaN'],
    [{ port: '80' }, TypeError, 'listen: options.port must be a number, got "80"'],
    [{}, TypeError, 'listen: options.port or options.path is required'],
    [{ port: 1, path: '/tmp/x' }, TypeError, 'exclude each other'],
    [{ path: '' }, TypeError, 'listen: options.path must be a non-empty string'],
    [{ port: 0, backlog: 0 }, RangeError, 'listen: options.backlog must be an integer >= 1, got 0'],
    [{ port: 0, headroom: -1 }, RangeError, 'listen: options.headroom'],
    [{ port: 0, retryDelay: NaN }, TypeError, 'listen: options.retryDelay must be a number of milliseconds, got NaN'],
    [{ port: 0, retryDelay: -5 }, RangeError, 'listen: options.retryDelay'],
    [{ port: 0, checkInterval: -1 }, RangeError, 'listen: options.checkInterval must be an integer >= 0, got -1'],
    [{ port: 0, refuse: '503' }, TypeError, 'listen: options.refuse must be a function'],
    [{ port: 0, keepNewest: { ms: 50 } }, TypeError, 'listen: options.keepNewest needs options.refuse'],
    [{ port: 0, refuse: () => undefined, keepNewest: { ms: 0 } }, RangeError, 'listen: options.keepNewest.ms must be an integer >= 1, got 0'],
    [{ port: 0, refuse: () => undefined, keepNewest: { count: 5 } }, TypeError, 'listen: options.keepNewest has no "count". Known: ms, holdMs'],
    [{ port: 0, refuse: () => undefined, keepNewest: { ms: 50, holdMs: -1 } }, RangeError, 'listen: options.keepNewest.holdMs must be an integer >= 1, got -1'],
  ])('rejects %p at call time, naming the option', (options, type, message) => {
    expect(() => listen(options as never)).toThrow(type);
    expect(() => listen(options as never)).toThrow(message);
  });

  it('rejects a missing options object and a fromServer without a server', () => {
    expect(() => listen(undefined as never)).toThrow(TypeError);
    expect(() => fromServer({} as never)).toThrow(/fromServer: server must be a net.Server/);
  });
});
