/*
 * The demo's drain on SIGTERM, from outside: readiness fails at once while the service port
 * goes on serving, and the process exits once nothing arrives, well before the drain bound.
 */
import { once } from 'node:events';
import { Agent, get, type IncomingMessage } from 'node:http';
import { sleep } from '../support/net';
import { startDemo, type Demo } from '../support/demo';

/** GET on a new connection that asks for keep-alive, as a balancer's would. */
function ask(port: number, path: string): Promise<{ status: number; connection: string | undefined }> {
  const agent = new Agent({ keepAlive: true });
  return new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent, timeout: 3000 }, (res: IncomingMessage) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  }).finally(() => agent.destroy());
}

/** Waits (bounded) until the demo has printed a line matching `pattern` on stdout (everything since it started). */
async function printed(demo: Demo, pattern: RegExp): Promise<RegExpExecArray> {
  for (const started = Date.now(); Date.now() - started < 3000; await sleep(10)) {
    const match = pattern.exec(demo.stdout());
    if (match) return match;
  }
  throw new Error(`the demo did not print ${pattern}: ${demo.stdout()}`);
}

describe('the demo behind a load balancer', () => {
  let demo: Demo | undefined;
  afterEach(() => {
    if (demo?.child.exitCode === null) demo.child.kill('SIGKILL');
  });

  it('--health-port, --drain-ms 5000: on SIGTERM /ready fails at once, the service port still serves, and it exits 0 once clients stop', async () => {
    demo = await startDemo(['--health-port', '0', '--drain-ms', '5000', '--drain-quiet-ms', '500']);
    const health = Number((await printed(demo, /health on http:\/\/127\.0\.0\.1:(\d+)/))[1]);
    expect([(await ask(health, '/live')).status, (await ask(health, '/ready')).status]).toEqual([200, 200]);
    expect(await ask(demo.port, '/before')).toEqual({ status: 200, connection: 'keep-alive' });

    const exited = once(demo.child, 'exit');
    demo.child.kill('SIGTERM');
    await sleep(200);
    expect((await ask(health, '/ready')).status).toBe(503);
    expect((await ask(health, '/live')).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      expect(await ask(demo.port, `/draining-${i}`)).toEqual({ status: 200, connection: 'keep-alive' }); // served as before
      await sleep(200); // traffic goes on arriving: the drain goes on
    }
    const lastRequest = Date.now();
    const [code] = (await Promise.race([exited, sleep(4000).then(() => ['still running'])])) as [number | string];
    expect(code).toBe(0);
    expect(Date.now() - lastRequest).toBeLessThan(2000); // the quiet period (500 ms), not the bound (5000 ms)
  });
});
