/*
 * The one call, with real sockets on 127.0.0.1 (port 0) and real clients: served, limited,
 * the side ports, the drain and the shutdown, a port in use, the signals, bad input. Every wait
 * is bounded (the clients' timeouts, jest's).
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ListenError, listenAndServe, type LogFunction, type ServingAddresses } from '../../src';

/** One request on a connection of its own; its status, headers and body. */
function ask(port: number, path = '/'): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject).end();
  });
}

/** The agent port's one-line answer. */
function agent(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(3000, () => socket.destroy(new Error('timed out')));
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

const portOf = (address: ServingAddresses['address'] | undefined): number => (address as AddressInfo).port;
const hello = (): Server => createServer((request, response) => response.end(`hello ${request.url} halfOpen=${request.socket.allowHalfOpen}\n`));
/** Runs `code` (CommonJS, with `listenAndServe` and `http` in scope) in a node of its own; its stdout, once it has exited by itself (8 s at most). */
function child(code: string): Promise<string> {
  const script = `const { listenAndServe } = require(${JSON.stringify(join(__dirname, '..', '..', 'dist', 'cjs'))}); const http = require('node:http');\n${code}`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { timeout: 8000 }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}: ${stderr}`)) : resolve(stdout)));
  });
}

describe('listenAndServe', () => {
  it('serves an http.Server on its own sockets (made as http makes them), and close() resolves once it has shut down', async () => {
    const lines: string[] = [];
    const server = listenAndServe(hello(), { port: 0, host: '127.0.0.1', signals: false, drainMs: 0, logger: (level, message) => lines.push(`${level} ${message}`) });
    const { address } = await server.ready;
    const answer = await ask(portOf(address), '/a');
    expect([answer.status, answer.body]).toEqual([200, 'hello /a halfOpen=true\n']);
    expect(server.metrics.snapshot().accepted).toBe(1);
    await server.close();
    await server.closed;
    expect(lines).toEqual(['info stopping: 0 live connections, up to 10000 ms to finish']);
    await expect(ask(portOf(address))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('leaves nothing that keeps the process alive once closed: a node that served a request and closed exits by itself', async () => {
    const out = await child(`
      const server = listenAndServe(http.createServer((q, r) => r.end('hi')), { port: 0, host: '127.0.0.1', healthPort: 0, agentPort: 0, logger: false });
      server.ready.then(({ address, healthAddress }) => {
        http.get({ port: address.port, host: '127.0.0.1' }, (r) => { r.resume(); r.on('end', () => {
          http.get({ port: healthAddress.port, host: '127.0.0.1', path: '/ready' }, (h) => { h.resume(); h.on('end', () => server.close().then(() => console.log('closed', r.statusCode, h.statusCode))); });
        }); });
      });`);
    expect(out).toBe('closed 200 200\n'); // and it exited by itself: drained (nothing arriving for 1 s), its keep-alive connection closed
  });

  it('answers the balancers on ports of their own, drains on close() (readiness fails, the agent says drain), then shuts them too', async () => {
    const server = listenAndServe(hello(), { port: 0, host: '127.0.0.1', healthPort: 0, agentPort: 0, signals: false, drainMs: 3000, drainQuietMs: 300, logger: false });
    const { address, healthAddress, agentAddress } = await server.ready;
    expect((await ask(portOf(healthAddress), '/ready')).status).toBe(200);
    expect(await agent(portOf(agentAddress))).toMatch(/^ready up \d+%\n$/);
    const closing = server.close();
    expect((await ask(portOf(healthAddress), '/ready')).status).toBe(503);
    expect(await agent(portOf(agentAddress))).toBe('drain\n');
    const during = await ask(portOf(address)); // still served while draining, told to close
    expect([during.status, during.headers.connection]).toEqual([200, 'close']);
    await closing;
    await expect(ask(portOf(agentAddress))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(ask(portOf(healthAddress), '/ready')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('holds the limit: beyond it a client waits in the queue, answered 503 with Retry-After if it waits too long; with the queue full, the kernel refuses', async () => {
    const held: ServerResponse[] = [];
    const app = createServer((_, response) => void held.push(response));
    const server = listenAndServe(app, { port: 0, host: '127.0.0.1', limit: 1, queueSize: 1, queueTimeoutMs: 100, signals: false, drainMs: 0, logger: false });
    const port = portOf((await server.ready).address);
    const first = ask(port);
    while (held.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const second = await ask(port);
    expect([second.status, second.headers['retry-after']]).toEqual([503, '1']);
    expect(server.limiter.counts.queueTimeouts).toBe(1);
    const waiting = ask(port); // waits in the queue: the limit and the queue are full now
    waiting.catch(() => undefined); // awaited below; a failure before must not be unhandled
    while (server.limiter.waiting === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    // The listener pauses: refused before it connects, or, if it came as the pause began, taken
    // from the accept queue and answered 503. Never reset, never left waiting.
    const refused = await ask(port).then((answer) => answer.status, (error: NodeJS.ErrnoException) => error.code);
    expect([503, 'ECONNREFUSED']).toContain(refused);
    held[0].end('done');
    expect((await first).status).toBe(200);
    while (held.length === 1) await new Promise((resolve) => setTimeout(resolve, 5)); // admitted when the first ended
    held[1].end('done');
    expect((await waiting).status).toBe(200);
    await server.close();
  });

  it('rejects ready with a ListenError and its hint when the port is taken, closes what it opened, and logs it', async () => {
    const taken = createNetServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const errors: string[] = [];
    const health = createNetServer().listen(0, '127.0.0.1'); // a free port for the health side, known in advance
    await once(health, 'listening');
    const healthPort = (health.address() as AddressInfo).port;
    await new Promise((resolve) => health.close(resolve));
    const server = listenAndServe(hello(), { port: (taken.address() as AddressInfo).port, host: '127.0.0.1', healthPort, signals: false, logger: (level, message) => level === 'error' && errors.push(message) });
    const failure = await server.ready.catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ListenError);
    expect(failure).toMatchObject({ code: 'EADDRINUSE', hint: expect.stringMatching(/another process/i) });
    await expect(server.closed).rejects.toBe(failure);
    await expect(ask(healthPort, '/live')).rejects.toMatchObject({ code: 'ECONNREFUSED' }); // the side port it had opened is closed
    expect(errors).toEqual([expect.stringContaining('EADDRINUSE')]);
    taken.close();
  });

  it('rejects ready with a ListenError when a side port is taken, and closes the main one', async () => {
    const taken = createNetServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const server = listenAndServe(hello(), { port: 0, host: '127.0.0.1', agentPort: (taken.address() as AddressInfo).port, signals: false, logger: false });
    const failure = await server.ready.catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ListenError);
    expect(failure).toMatchObject({ code: 'EADDRINUSE' });
    await expect(server.closed).rejects.toBe(failure);
    expect(server.status.state.phase).toBe('stopped');
    taken.close();
  });

  it('handles SIGTERM (the drain) and SIGINT (no drain) while it runs, and removes its handlers when closed; signals: false adds none', async () => {
    const counts = (): number[] => [process.listenerCount('SIGTERM'), process.listenerCount('SIGINT')];
    const before = counts();
    const lines: string[] = [];
    const log: LogFunction = (_, message) => lines.push(message.split(':')[0]);
    const quiet = listenAndServe(hello(), { port: 0, host: '127.0.0.1', signals: false, logger: false });
    await quiet.ready;
    expect(counts()).toEqual(before);
    await quiet.close();

    const term = listenAndServe(hello(), { port: 0, host: '127.0.0.1', drainMs: 2000, drainQuietMs: 100, logger: log });
    await term.ready;
    expect(counts()).toEqual([before[0] + 1, before[1] + 1]);
    process.emit('SIGTERM'); // the listeners only: no signal is sent
    await term.closed;
    expect(lines).toEqual(['draining', 'stopping']);
    expect(counts()).toEqual(before);

    lines.length = 0;
    const int = listenAndServe(hello(), { port: 0, host: '127.0.0.1', drainMs: 2000, logger: log });
    await int.ready;
    process.emit('SIGINT');
    await int.closed;
    expect(lines).toEqual(['stopping']);
    expect(counts()).toEqual(before);
  });

  it('takes a pino-shaped logger: level methods called with the fields first', async () => {
    const calls: [string, object, string][] = [];
    const pino = { info: (fields: object, message: string) => calls.push(['info', fields, message]), warn: () => undefined, error: () => undefined };
    const server = listenAndServe(hello(), { port: 0, host: '127.0.0.1', signals: false, drainMs: 0, logger: pino });
    await server.ready;
    await server.close();
    expect(calls).toEqual([['info', { live: 0, graceMs: 10_000 }, 'stopping: 0 live connections, up to 10000 ms to finish']]);
  });

  describe('refuses bad input at call time, naming the option and the value', () => {
    const listening = createServer();
    beforeAll(() => once(listening.listen(0, '127.0.0.1'), 'listening'));
    afterAll(() => listening.close());
    const rows: [string, () => unknown, RegExp][] = [
      ['not a server', () => listenAndServe({} as Server, { port: 0 }), /^listenAndServe: server must be a net\.Server .*got object/],
      ['a server that listens', () => listenAndServe(listening, { port: 0 }), /^listenAndServe: server must not listen itself/],
      ['null options', () => listenAndServe(hello(), null as never), /^listenAndServe: options .*null/],
      ['an unknown option', () => listenAndServe(hello(), { port: 0, limt: 3 } as never), /^listenAndServe: options.*limt.*limit/],
      ['no port or path', () => listenAndServe(hello(), {}), /^listenAndServe: options must have one of port and path, got neither/],
      ['a port and a path', () => listenAndServe(hello(), { port: 0, path: '/tmp/x.sock' }), /got both/],
      ['a port out of range', () => listenAndServe(hello(), { port: 70000 }), /^listenAndServe: options\.port .*70000/],
      ['a limit of 0', () => listenAndServe(hello(), { port: 0, limit: 0 }), /^listenAndServe: options\.limit .*0/],
      ['maxElu above 1', () => listenAndServe(hello(), { port: 0, maxElu: 2 }), /^listenAndServe: options\.maxElu .*2/],
      ['maxLagMs a string', () => listenAndServe(hello(), { port: 0, maxLagMs: '100' as never }), /^listenAndServe: options\.maxLagMs .*"100"/],
      ['a logger of the wrong kind', () => listenAndServe(hello(), { port: 0, logger: 5 as never }), /^listenAndServe: options\.logger must be a function, a logger with info, warn and error methods \(pino\), or false, got 5/],
      ['agentFullWeightAt without agentPort', () => listenAndServe(hello(), { port: 0, agentFullWeightAt: 100 }), /^listenAndServe: options\.agentFullWeightAt .*options\.agentPort/],
      ['an untrusted proxy address', () => listenAndServe(hello(), { port: 0, proxyProtocol: true, trustedProxies: 'nope' }), /^listenAndServe: options\.trustedProxies .*"nope"/],
    ];
    it.each(rows)('%s', (_, call, message) => {
      expect(call).toThrow(message);
    });
    it('opens nothing when it refuses: a node that called it with a bad limit exits by itself', async () => {
      const out = await child(`try { listenAndServe(http.createServer(), { port: 0, healthPort: 0, agentPort: 0, limit: -1 }); } catch (e) { console.log(e.message); }`);
      expect(out).toMatch(/^listenAndServe: options\.limit .*-1\n$/);
    });
  });
});
