/* The health and agent endpoints on ports of their own, talked to by real clients on loopback. */
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { concat, NEVER, of } from 'rxjs';
import { accepted, FakeListener } from '../marbles';
import { agentCheck, healthCheck, LoopStatus } from '../../src/balancer';
import { backpressure, handleErrors, Limiter } from '../../src';
import { Metrics } from '../../src/metrics';

function ask(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject).end();
  });
}

async function listening(server: Server | ReturnType<typeof createNetServer>): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

describe('healthCheck and agentCheck', () => {
  const listener = new FakeListener(() => 0);
  const limiter = new Limiter(4);
  const metrics = new Metrics(limiter);
  concat(of(accepted(listener)), NEVER).pipe(metrics.count(), handleErrors(), backpressure(limiter)).subscribe();
  const servers: { close(): void }[] = [];
  afterAll(() => servers.forEach((server) => server.close()));

  it('answers /live, /ready and /metrics by phase, never for anything else', async () => {
    const status = new LoopStatus(metrics, limiter);
    const server = createServer(healthCheck(status));
    servers.push(server);
    const port = await listening(server);
    const ready = await ask(port, '/ready');
    expect(ready).toMatchObject({ status: 200, type: 'application/json' });
    const state = JSON.parse(ready.body);
    expect(state).toEqual({ phase: 'accepting', pauses: [], live: 1, limit: 4, waiting: 0, queueSize: 511, busy: expect.any(Number), headroom: Math.min(0.75, 1 - state.busy) });
    const resume = listener.pause('limit');
    expect((await ask(port, '/ready')).status).toBe(200); // paused is ready by default
    resume();
    expect(await ask(port, '/metrics')).toMatchObject({ status: 200, body: expect.stringContaining('rxjs_listen_live_connections 1\n') });
    expect(await ask(port, '/other')).toMatchObject({ status: 404 });
    expect(await ask(port, '/ready', 'POST')).toMatchObject({ status: 405 });
    expect(await ask(port, '/ready', 'HEAD')).toMatchObject({ status: 200, body: '' });
    status.drain();
    expect(await ask(port, '/ready')).toMatchObject({ status: 503, body: expect.stringContaining('"phase":"draining"') });
    expect((await ask(port, '/live')).status).toBe(200);
  });

  it('fails /ready while paused with readyWhilePaused: false, and rejects a bad option', async () => {
    const server = createServer(healthCheck(new LoopStatus(metrics, limiter), { readyWhilePaused: false }));
    servers.push(server);
    const port = await listening(server);
    const resume = listener.pause('shortage');
    expect(await ask(port, '/ready')).toMatchObject({ status: 503, body: expect.stringContaining('"pauses":["shortage"]') });
    resume();
    expect((await ask(port, '/ready')).status).toBe(200);
    expect(() => healthCheck(new LoopStatus(metrics), { readyWhilePaused: 'no' as never })).toThrow('healthCheck: options.readyWhilePaused must be a boolean, got "no"');
  });

  it("answers HAProxy's agent with one line per connection, then closes", async () => {
    const status = new LoopStatus(metrics, limiter);
    const server = createNetServer(agentCheck(status));
    servers.push(server);
    const port = await listening(server);
    const line = async (): Promise<string> => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
      await once(socket, 'close');
      return text;
    };
    const headroom = status.state.headroom; // 0.75 or less, as busy as this process has been
    expect(await line()).toBe(`ready up ${Math.max(1, Math.round(headroom * 100))}%\n`);
    const resume = listener.pause('limit');
    expect(await line()).toBe('drain\n');
    resume();
    status.stop();
    expect(await line()).toBe('maint\n');
  });
});
