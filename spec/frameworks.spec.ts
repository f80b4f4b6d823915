/*
 * The framework recipes in demo/frameworks/ (docs/frameworks.md), each started as a user would
 * (its compiled script in a child process) and talked to by a real client on loopback: served;
 * the limit holds; an open WebSocket, socket.io connection or gRPC channel holds one slot until
 * it closes, and an idle HTTP/2 session is retired (GOAWAY) for a waiting client; SIGTERM with a client connected (an idle keep-alive
 * connection, an open WebSocket, socket.io connection, HTTP/2 session or idle gRPC channel)
 * exits 0 without waiting out the grace. gRPC has cases of its own: concurrent calls on two
 * channels under a limit of 1, and its shutdown (GOAWAY: an idle channel lets the process exit
 * within 1 s, a call in flight is answered). Every wait is bounded.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Agent, get, type IncomingMessage } from 'node:http';
import { connect as connectHttp2, constants, type ClientHttp2Session } from 'node:http2';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectivityState, credentials, loadPackageDefinition, status, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { io } from 'socket.io-client';
import { WebSocket } from 'ws';
import { startScript } from './support/demo';

const build = join(__dirname, '..', 'build', 'demo', 'frameworks');
/** How long any one client step may take. */
const WAIT_MS = 3000;
/** The examples' graceMs (demo/frameworks/common.ts): a shutdown that took this long waited it out. */
const GRACE_MS = 2000;

/** One client of an example: its first `ask()` connects (then it stays connected); `close()` ends its connection. */
interface Client {
  /** Resolves with the reply, or rejects with the error that ended the attempt. */
  ask(): Promise<string>;
  close(): Promise<void>;
}

/** Rejects (code `TIMEOUT`) after `ms`, unless `promise` settles first. */
function bounded<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what} timed out after ${ms} ms`), { code: 'TIMEOUT' })), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function body(response: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of response) text += String(chunk);
  return text;
}

/** HTTP/1.1 over one keep-alive connection (Node's agent, one socket): it stays open between asks. */
function httpClient(port: number): Client {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return {
    ask: () =>
      bounded(
        new Promise<IncomingMessage>((resolve, reject) => get({ host: '127.0.0.1', port, path: '/', agent }, resolve).on('error', reject)).then(body),
        WAIT_MS,
        'GET /',
      ),
    close: async () => agent.destroy(),
  };
}

function wsClient(port: number): Client {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  socket.on('error', () => {}); // before 'open': ask() rejects with it; after: the socket closes
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return {
    ask: () =>
      bounded(
        opened.then(async () => {
          socket.send('hello');
          const closed = once(socket, 'close').then(() => Promise.reject(Object.assign(new Error('WebSocket closed by the server'), { code: 'ECONNRESET' })));
          const [data] = await Promise.race([once(socket, 'message'), closed]);
          return String(data);
        }),
        WAIT_MS,
        'WebSocket',
      ),
    close: async () => {
      if (socket.readyState === WebSocket.CLOSED) return;
      socket.close();
      await bounded(once(socket, 'close'), WAIT_MS, 'WebSocket close').catch(() => socket.terminate());
    },
  };
}

function socketIoClient(port: number): Client {
  // Only the WebSocket transport: one client, one connection (polling first would open more).
  const socket = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false, timeout: WAIT_MS, forceNew: true });
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return {
    ask: () => bounded(connected.then(() => socket.timeout(WAIT_MS).emitWithAck('hello')), WAIT_MS, 'socket.io'),
    close: async () => void socket.disconnect(),
  };
}

function http2Client(port: number): Client {
  const session: ClientHttp2Session = connectHttp2(`http://127.0.0.1:${port}`);
  let ended: unknown; // why the session ended: its error, or the server closed it
  session.once('error', (error) => (ended ??= error));
  session.once('close', () => (ended ??= Object.assign(new Error('HTTP/2 session closed by the server'), { code: 'ECONNRESET' })));
  return {
    ask: () => {
      const stream = session.request({ ':path': '/' });
      stream.setEncoding('utf8');
      const reply = (async () => {
        let text = '';
        for await (const chunk of stream) text += String(chunk);
        return text;
      })().catch(async (error: unknown) => {
        await new Promise(setImmediate); // a stream ended by its session fails first, the session next
        throw ended ?? error;
      });
      return bounded(reply, WAIT_MS, 'HTTP/2 request');
    },
    close: async () => {
      if (session.destroyed) return;
      session.close();
      await bounded(once(session, 'close'), WAIT_MS, 'HTTP/2 close').catch(() => session.destroy());
    },
  };
}

/** The service of demo/frameworks/grpc.ts, from the same .proto. */
let greeter: ServiceClientConstructor | undefined;
function greeterClass(): ServiceClientConstructor {
  if (greeter !== undefined) return greeter;
  const hello: unknown = loadPackageDefinition(loadSync(join(__dirname, '..', 'demo', 'frameworks', 'hello.proto'))).hello;
  const found: unknown = typeof hello === 'object' && hello !== null && 'Greeter' in hello ? hello.Greeter : undefined;
  if (!isService(found)) throw new Error('hello.proto has no service hello.Greeter');
  return (greeter = found);
}

function isService(value: unknown): value is ServiceClientConstructor {
  return typeof value === 'function' && 'service' in value;
}

/** A gRPC client with a channel (and so a connection) of its own; `state()`: its channel's connectivity. */
interface GrpcClient extends Client {
  state(): connectivityState;
  /** Resolves with the channel's next state once it leaves `from`; rejects after `ms`. */
  leaves(from: connectivityState, ms: number): Promise<connectivityState>;
}

function grpcClient(port: number): GrpcClient {
  const Greeter = greeterClass();
  // grpc-js shares a connection among channels to the same address (its global subchannel
  // pool): a local pool gives this client a connection of its own.
  const client = new Greeter(`127.0.0.1:${port}`, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const channel = client.getChannel();
  const { path, requestSerialize, responseDeserialize } = Greeter.service.SayHello;
  return {
    ask: () =>
      bounded(
        new Promise<string>((resolve, reject) => {
          client.makeUnaryRequest(path, requestSerialize, responseDeserialize, { name: 'spec' }, { deadline: Date.now() + WAIT_MS }, (error?: ServiceError | null, response?: { message?: unknown }) => {
            if (error) return reject(grpcError(error));
            if (typeof response?.message !== 'string') return reject(new Error(`not a HelloReply: ${JSON.stringify(response)}`));
            resolve(response.message);
          });
        }),
        WAIT_MS + 500,
        'SayHello',
      ),
    close: async () => client.close(),
    state: () => channel.getConnectivityState(false),
    leaves: (from, ms) =>
      new Promise((resolve, reject) =>
        channel.watchConnectivityState(from, Date.now() + ms, (error) => (error ? reject(error) : resolve(channel.getConnectivityState(false)))),
      ),
  };
}

/** A failed call, with the socket error it reports (`ECONNREFUSED`: the listener paused) as its code, or its gRPC status. */
function grpcError(error: ServiceError): Error {
  const socketCode = error.code === status.UNAVAILABLE ? /\b(ECONNREFUSED|ECONNRESET)\b/.exec(error.details)?.[1] : undefined;
  return Object.assign(new Error(error.message), { code: socketCode ?? `gRPC ${status[error.code]}` });
}

/** The error code in an error, or in what it wraps (socket.io's `description`, ws's `error`, `cause`). */
function codeOf(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error);
  if ('code' in error && typeof error.code === 'string') return error.code;
  const inner = 'description' in error ? error.description : 'error' in error ? error.error : 'cause' in error ? error.cause : undefined;
  if (typeof inner === 'object' && inner !== null) return codeOf(inner);
  return error instanceof Error ? error.message : String(error);
}

/** How many handler calls were in progress when the example made this reply. */
function inFlight(reply: string): number {
  const match = /, (\d+) in flight\n$/.exec(reply);
  if (!match) throw new Error(`not a reply of the examples: ${JSON.stringify(reply)}`);
  return Number(match[1]);
}

/** A client that could not get in: refused while the listener is paused, or reset when dropped. */
const TURNED_AWAY = ['ECONNREFUSED', 'ECONNRESET'];

/** The example's file name, its name in replies, its client; `session`: a client that stays connected and holds a slot for it. */
const frameworks: { name: string; says: string; client: (port: number) => Client; session?: string; reclaimed?: string }[] = [
  { name: 'express', says: 'express', client: httpClient },
  { name: 'fastify', says: 'fastify', client: httpClient },
  { name: 'koa', says: 'koa', client: httpClient },
  { name: 'hono', says: 'hono', client: httpClient },
  { name: 'nest', says: 'nest', client: httpClient },
  { name: 'marble', says: 'marble', client: httpClient },
  { name: 'ws', says: 'ws', client: wsClient, session: 'an open WebSocket' },
  { name: 'socketio', says: 'socket.io', client: socketIoClient, session: 'an open socket.io connection' },
  // An idle HTTP/2 session does not hold its slot against a waiting client: retired with GOAWAY.
  { name: 'http2', says: 'http2', client: http2Client, reclaimed: 'an idle HTTP/2 session' },
  { name: 'grpc', says: 'grpc', client: grpcClient, session: 'an idle gRPC channel' },
];

/** Starts demo/frameworks/NAME.ts (compiled) on a free port; the child goes into `children`, to be killed after the test. */
async function startRecipe(name: string, children: ChildProcess[], args: string[]): Promise<{ port: number; child: ChildProcess; stderr(): string }> {
  const started = await startScript(join(build, `${name}.js`), ['--port', '0', ...args]);
  children.push(started.child);
  const match = /^listening on http:\/\/127\.0\.0\.1:(\d+)$/.exec(started.line);
  if (!match) throw new Error(`${name} did not start: ${started.line} ${started.stderr()}`);
  return { ...started, port: Number(match[1]) };
}

describe.each(frameworks)('demo/frameworks/$name.ts', ({ name, says, client, session, reclaimed }) => {
  const children: ChildProcess[] = [];
  const clients: Client[] = [];
  const connect = (port: number): Client => {
    const made = client(port);
    clients.push(made);
    return made;
  };
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  const start = (...args: string[]) => startRecipe(name, children, args);

  it('serves a client; on SIGTERM with the client still connected, exits 0 without waiting out the grace', async () => {
    const { port, child } = await start();
    // A keep-alive connection left idle, an open WebSocket, socket.io connection or HTTP/2 session.
    expect(await connect(port).ask()).toBe(`hello from ${says}, 1 in flight\n`);
    const exited = once(child, 'exit');
    const started = Date.now();
    child.kill('SIGTERM');
    const [code] = (await bounded(exited, 5000, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(GRACE_MS - 500);
  });

  it('with --limit 2, never runs more than 2 at once: 5 clients are each served or turned away', async () => {
    const { port, stderr } = await start('--limit', '2', '--hold-ms', '300');
    const outcomes = await Promise.all(
      Array.from({ length: 5 }, async () => {
        const one = connect(port);
        try {
          return inFlight(await one.ask());
        } catch (error) {
          return codeOf(error);
        } finally {
          await one.close();
        }
      }),
    );
    const served = outcomes.filter((o): o is number => typeof o === 'number');
    const failed = outcomes.filter((o): o is string => typeof o === 'string');
    expect({ served: served.filter((n) => n > 2), failed: failed.filter((code) => !TURNED_AWAY.includes(code)) }).toEqual({ served: [], failed: [] });
    expect(served.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...served)).toBe(2); // the two admitted first did run at once
    expect(stderr()).toBe('');
  });

  // A keep-alive HTTP/1 connection is one slot too, but while idle it may be closed to admit a
  // waiting client (the limiter's queue): this is for the connections that stay busy.
  if (reclaimed !== undefined) it(`with --limit 1, ${reclaimed} is retired for a waiting client, which is served at once`, async () => {
    const { port } = await start('--limit', '1');
    const first = connect(port);
    await first.ask(); // one exchange, then idle (the client keeps its session open)
    await sleep(50);
    const started = Date.now();
    expect(await connect(port).ask()).toContain(says);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  if (session !== undefined) it(`with --limit 1, ${session} holds the slot until it closes`, async () => {
    const { port } = await start('--limit', '1');
    const first = connect(port);
    await first.ask(); // connected, and stays so
    const second = connect(port);
    const waiting = second.ask().then(
      (reply) => ({ reply }),
      (error: unknown) => ({ code: codeOf(error) }),
    );
    // Not served while the first is open: refused at once, or kept waiting.
    expect(await Promise.race([waiting, sleep(500).then(() => ({ waiting: true }))])).not.toHaveProperty('reply');
    await first.close();
    // Then served: the waiting attempt itself, or a new one once the slot is free.
    let outcome = await waiting;
    const deadline = Date.now() + WAIT_MS;
    while ('code' in outcome && TURNED_AWAY.includes(outcome.code) && Date.now() < deadline) {
      await sleep(50);
      outcome = await connect(port).ask().then(
        (reply) => ({ reply }),
        (error: unknown) => ({ code: codeOf(error) }),
      );
    }
    expect(outcome).toHaveProperty('reply');
  });
});

describe('demo/frameworks/ws.ts, shutdown', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('sends an open WebSocket close code 1001 on SIGTERM, before the process exits 0', async () => {
    const { port, child } = await startRecipe('ws', children, []);
    const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
    socket.on('error', () => {});
    await bounded(once(socket, 'open'), WAIT_MS, 'WebSocket open');
    const events: string[] = [];
    socket.on('close', (code: number) => events.push(`close ${code}`));
    const exited = once(child, 'exit').then(([code]) => events.push(`exit ${String(code)}`));
    child.kill('SIGTERM');
    await bounded(exited, GRACE_MS, 'exit');
    expect(events).toEqual(['close 1001', 'exit 0']);
  });
});

describe('demo/frameworks/grpc.ts, calls and shutdown', () => {
  const children: ChildProcess[] = [];
  const clients: GrpcClient[] = [];
  const cleanups: (() => void)[] = [];
  const connect = (port: number): GrpcClient => {
    const made = grpcClient(port);
    clients.push(made);
    return made;
  };
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
    for (const cleanup of cleanups.splice(0)) cleanup();
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('with --limit 1 --hold-ms 300, a call on a second channel is answered only after the first channel closes, alone', async () => {
    const { port, stderr } = await startRecipe('grpc', children, ['--limit', '1', '--hold-ms', '300']);
    const first = connect(port);
    const second = connect(port);
    const firstReply = first.ask();
    await sleep(150); // the first call is in flight (held 300 ms) when the second one starts
    let secondAt = 0;
    const secondReply = second.ask().then((reply) => ((secondAt = Date.now()), reply));
    secondReply.catch(() => {}); // awaited below
    expect(await firstReply).toBe('hello from grpc, 1 in flight\n');
    // The first channel, idle now, still holds the slot: the second call waits (in the queue).
    expect(await Promise.race([secondReply.then(() => 'answered'), sleep(500).then(() => 'waiting')])).toBe('waiting');
    const closedAt = Date.now();
    await first.close();
    expect(await secondReply).toBe('hello from grpc, 1 in flight\n');
    expect(secondAt).toBeGreaterThanOrEqual(closedAt);
    expect(stderr()).toBe('');
  });

  it('on SIGTERM with an idle channel connected, exits 0 within 1 s: each session gets GOAWAY (no error), the channel goes idle', async () => {
    const { port, child } = await startRecipe('grpc', children, []);
    const client = connect(port);
    expect(await client.ask()).toBe('hello from grpc, 1 in flight\n');
    expect(client.state()).toBe(connectivityState.READY);
    // grpc-js does not tell its channel's GOAWAY from a dropped connection (both go IDLE): a
    // plain HTTP/2 session beside it, a session of the server's too, shows what the server sends.
    const raw = connectHttp2(`http://127.0.0.1:${port}`);
    raw.on('error', () => {});
    cleanups.push(() => raw.destroy());
    await bounded(once(raw, 'remoteSettings'), WAIT_MS, 'HTTP/2 settings'); // the server's session is up
    const goaway = once(raw, 'goaway');
    const exited = once(child, 'exit');
    const left = client.leaves(connectivityState.READY, WAIT_MS);
    const started = Date.now();
    child.kill('SIGTERM');
    const [code] = (await bounded(exited, 5000, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(1000);
    const [errorCode] = (await bounded(goaway, WAIT_MS, 'GOAWAY')) as [number];
    expect(errorCode).toBe(constants.NGHTTP2_NO_ERROR);
    expect(await left).toBe(connectivityState.IDLE);
  });

  it('on SIGTERM with a call in flight, answers it, then exits 0', async () => {
    const { port, child } = await startRecipe('grpc', children, ['--hold-ms', '400']);
    const client = connect(port);
    expect(await client.ask()).toBe('hello from grpc, 1 in flight\n'); // connected
    const inFlight = client.ask();
    inFlight.catch(() => {}); // awaited below
    await sleep(150);
    const exited = once(child, 'exit');
    const started = Date.now();
    child.kill('SIGTERM');
    expect(await inFlight).toBe('hello from grpc, 1 in flight\n');
    const [code] = (await bounded(exited, 5000, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
