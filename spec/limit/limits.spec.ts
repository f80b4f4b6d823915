/*
 * What ordinary clients see at the limit, from outside: the demo in a child process, real
 * clients on loopback (fetch, node:http keep-alive agents), every wait bounded.
 */
import { once } from 'node:events';
import { Agent, get, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { startDemo, stopDemo, type Demo } from '../support/demo';
import { sleep } from '../support/net';

/** GET through `agent`, resolving with the response and its body. */
async function request(port: number, path: string, agent: Agent | false): Promise<{ response: IncomingMessage; body: string; socket: Socket }> {
  const req = get({ host: '127.0.0.1', port, path, agent, timeout: 5000 });
  req.on('timeout', () => req.destroy(new Error(`${path}: no answer in 5 s`)));
  const [response] = (await once(req, 'response')) as [IncomingMessage];
  const socket = response.socket;
  let body = '';
  for await (const chunk of response) body += String(chunk);
  return { response, body, socket };
}

/** Resolves with how a socket ended: 'closed' (orderly), 'reset' or an error code; 'open' after `ms`. */
function ending(socket: Socket, ms: number): Promise<string> {
  if (socket.destroyed) return Promise.resolve('closed');
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('open'), ms).unref();
    socket.once('error', (error: NodeJS.ErrnoException) => (clearTimeout(timer), resolve(error.code ?? 'error')));
    socket.once('close', (hadError: boolean) => (clearTimeout(timer), resolve(hadError ? 'reset' : 'closed')));
  });
}

describe('clients at the limit', () => {
  let demo: Demo | undefined;
  afterEach(() => {
    if (demo?.child.exitCode === null) demo.child.kill('SIGKILL');
  });

  it('serves a burst of 20 fetch() POSTs at --limit 5: all wait their turn, never more than 5 at once', async () => {
    demo = await startDemo(['--limit', '5', '--hold-ms', '300']);
    const url = `http://127.0.0.1:${demo.port}/burst`;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetch(url, { method: 'POST', body: JSON.stringify({ i }), signal: AbortSignal.timeout(10_000) }).then(
          async (r) => ({ status: r.status, live: Number(r.headers.get('x-live')), body: await r.text() }),
          (error: Error) => ({ status: 0, live: 0, body: String((error.cause as Error | undefined)?.message ?? error.message) }),
        ),
      ),
    );
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(Math.max(...results.map((r) => r.live))).toBeLessThanOrEqual(5);
    expect(await stopDemo(demo)).toBe(0);
  }, 20_000);

  it('closes the idle keep-alive connection to admit a new client (--limit 5 --keep-alive-ms 72000); the idle one sees an orderly close', async () => {
    demo = await startDemo(['--limit', '5', '--keep-alive-ms', '72000']);
    const port = demo.port;
    const agents = Array.from({ length: 5 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
    const sockets: Socket[] = [];
    for (const agent of agents) {
      const { response, socket } = await request(port, '/idle', agent);
      expect(response.headers.connection).toBe('keep-alive');
      sockets.push(socket);
    }
    const endings = sockets.map((socket) => ending(socket, 1000));
    const sixth = await request(port, '/sixth', false); // would wait 72 s for a keep-alive timeout
    expect(sixth.body).toContain('GET /sixth');
    expect(await endings[0]).toBe('closed'); // the longest idle went, with a FIN, not a reset
    expect((await Promise.all(endings.slice(1))).every((e) => e === 'open')).toBe(true);
    agents.forEach((a) => a.destroy());
    expect(await stopDemo(demo)).toBe(0);
  }, 20_000);

  it('ends a connection silent for --silence-ms 1000 although http keeps it alive for 30 s', async () => {
    demo = await startDemo(['--silence-ms', '1000', '--keep-alive-ms', '30000']);
    const agent = new Agent({ keepAlive: true });
    const { socket } = await request(demo.port, '/once', agent);
    expect(await ending(socket, 3000)).toBe('closed');
    agent.destroy();
    expect(await stopDemo(demo)).toBe(0);
  }, 20_000);

  it('answers 503 with Retry-After to a client that waited longer than --queue-timeout-ms', async () => {
    demo = await startDemo(['--limit', '1', '--hold-ms', '2000', '--queue-timeout-ms', '200']);
    const held = request(demo.port, '/held', false);
    await sleep(100);
    const late = await request(demo.port, '/late', false);
    expect([late.response.statusCode, late.response.headers['retry-after']]).toEqual([503, '1']);
    expect((await held).body).toContain('GET /held');
    expect(await stopDemo(demo)).toBe(0);
  }, 20_000);

  it('shuts down gracefully with keep-alive clients: the busy one is answered with Connection: close, the idle ones closed, long before the grace', async () => {
    demo = await startDemo(['--hold-ms', '500', '--grace-ms', '20000', '--keep-alive-ms', '60000', '--drain-ms', '0']); // the shutdown without the drain (spec/balancer/demoDrain.spec.ts has the drain)
    const agent = new Agent({ keepAlive: true, maxSockets: 2 });
    await Promise.all([request(demo.port, '/a', agent), request(demo.port, '/b', agent)]); // two idle keep-alive sockets
    const busy = request(demo.port, '/busy', agent);
    await sleep(100);
    demo.child.kill('SIGTERM');
    const { response, body } = await busy;
    expect([response.headers.connection, body]).toEqual(['close', 'hello from rxjs-listen, GET /busy\n']);
    const deadline = new Promise<string[]>((resolve) => setTimeout(() => resolve(['still running']), 5000).unref());
    const exited = await Promise.race([once(demo.child, 'exit'), deadline]);
    expect(exited[0]).toBe(0); // within 5 s of a 20 s grace
    agent.destroy();
  }, 20_000);
});
