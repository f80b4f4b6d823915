/*
 * A real HAProxy in front of the demo, reading its agent (`agent-check`): when the demo is
 * full at its limit, HAProxy sets it to DRAIN within a bounded wait, a request sent meanwhile
 * goes to the other server (a plain Node server, `backup`: used only while the demo is not
 * usable, so the request would have gone to the full demo without the agent), and the demo is
 * UP again once its requests are answered (the agent said `ready up N%`). HAProxy runs from a
 * temporary directory as this user in the foreground (`-db`), on loopback, and is stopped by
 * its PID. Skipped when haproxy is not on PATH: .ci/run installs it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { showStat } from '../../bench/balancers/support';
import { freePort, later, sleep } from '../support/net';
import { startDemo, stopDemo, type Demo } from '../support/demo';

const haproxyOnPath = spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).error === undefined;
const describeWithHaproxy = haproxyOnPath ? describe : describe.skip;
const title = haproxyOnPath
  ? 'the demo behind a real HAProxy with agent-check'
  : 'the demo behind a real HAProxy with agent-check (skipped: haproxy is not on PATH; .ci/run installs it)';

const HOLD_MS = 1500;

/** GET on a new connection; resolves with the status and who served it (X-Served-By), rejects after 5 s. */
function ask(port: number, path: string): Promise<{ status: number; servedBy: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, servedBy: res.headers['x-served-by'] as string | undefined }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

/**
 * Polls `show stat` every 50 ms, at most `ms`, until server `name`'s row satisfies `wanted`;
 * resolves with the statuses seen (field 18), in order.
 */
async function waitFor(dir: string, name: string, what: string, wanted: (row: Record<string, string>) => boolean, ms: number): Promise<string[]> {
  const seen: string[] = [];
  for (const start = Date.now(); Date.now() - start < ms; await sleep(50)) {
    const row = (await showStat(dir)).find((r) => r.svname === name);
    const status = row ? `${row.status} (agent: ${row.agent_status})` : 'absent';
    if (seen[seen.length - 1] !== status) seen.push(status);
    if (row && wanted(row)) return seen;
  }
  throw new Error(`server ${name} did not read ${what} within ${ms} ms; it read ${seen.join(' -> ')}`);
}

/** UP, or UP with a failed health check counted ("UP 2/3": still up, still sent traffic). */
const up = (row: Record<string, string>): boolean => /^UP( \d+\/\d+)?$/.test(row.status!);

describeWithHaproxy(title, () => {
  let dir: string | undefined;
  let haproxy: ChildProcess | undefined;
  let demo: Demo | undefined;
  let plain: Server | undefined;

  afterEach(async () => {
    if (haproxy && haproxy.exitCode === null && haproxy.signalCode === null) {
      haproxy.kill('SIGTERM');
      const stopped = await Promise.race([once(haproxy, 'exit').then(() => true), later(3000).then(() => false)]);
      if (!stopped) haproxy.kill('SIGKILL');
    }
    if (demo) await Promise.race([stopDemo(demo), later(3000).then(() => demo!.child.kill('SIGKILL'))]);
    if (plain) {
      plain.closeAllConnections();
      await new Promise((resolve) => plain!.close(resolve));
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sets the full demo to DRAIN (agent) within a bounded wait, sends the next request to the other server, and sets the demo UP once its requests are answered', async () => {
    dir = mkdtempSync(join(tmpdir(), 'rxjs-listen-haproxy-spec-'));
    const adminSocket = join(dir, 'admin.sock');
    const agentPort = await freePort(); // fixed, so that HAProxy's configuration can name it
    demo = await startDemo(['--limit', '2', '--queue-size', '0', '--hold-ms', String(HOLD_MS), '--agent-port', String(agentPort)]);
    plain = createServer((_, response) => response.setHeader('X-Served-By', 'plain').end('plain\n'));
    plain.listen(0, '127.0.0.1');
    await once(plain, 'listening');
    const plainPort = (plain.address() as AddressInfo).port;
    const frontendPort = await freePort();

    writeFileSync(
      join(dir, 'haproxy.cfg'),
      `global
  stats socket ${adminSocket} level admin
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
  # The demo's limit counts connections: HAProxy's idle server connections would hold both of its
  # slots (and keep its agent at drain) until HAProxy purges them, seconds later. Closed after
  # each response, the slots free with the answers.
  option http-server-close
frontend fe
  bind 127.0.0.1:${frontendPort}
  default_backend be
backend be
  server a 127.0.0.1:${demo.port} check agent-check agent-port ${agentPort} agent-inter 100ms weight 100
  server b 127.0.0.1:${plainPort} check backup
`,
    );
    haproxy = spawn('haproxy', ['-f', join(dir, 'haproxy.cfg'), '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let haproxyStderr = '';
    haproxy.stderr!.on('data', (chunk: Buffer) => (haproxyStderr += chunk.toString()));
    // Up once its admin socket answers (at most 5 s).
    for (const start = Date.now(); ; await sleep(50)) {
      if (haproxy.exitCode !== null) throw new Error(`haproxy exited: ${haproxyStderr}`);
      if (await showStat(dir).then(() => true, () => false)) break;
      if (Date.now() - start > 5000) throw new Error(`haproxy did not start: ${haproxyStderr}`);
    }
    // UP, and its agent has answered once (the first agent check is spread over the check interval).
    await waitFor(dir, 'a', 'UP with its agent read', (r) => r.status === 'UP' && r.agent_status === 'L7OK', 5000);
    const demoPid = String(demo.child.pid);

    // Two requests held 1.5 s fill the demo (--limit 2 --queue-size 0): its listener pauses, its agent says drain.
    const sent = Date.now();
    const held = [ask(frontendPort, '/held-1'), ask(frontendPort, '/held-2')];
    const drained = await waitFor(dir, 'a', 'DRAIN (agent)', (r) => r.status === 'DRAIN (agent)', HOLD_MS - 300);
    expect(drained[drained.length - 1]).toMatch(/^DRAIN \(agent\)/);
    expect(Date.now() - sent).toBeLessThan(HOLD_MS); // seen while both requests are still held

    // Sent now, it goes to the other server: without the agent it would go to the full demo, whose listener is closed.
    expect(await ask(frontendPort, '/third')).toEqual({ status: 200, servedBy: 'plain' });
    expect(await Promise.all(held)).toEqual([
      { status: 200, servedBy: demoPid },
      { status: 200, servedBy: demoPid },
    ]);

    // Answered, the demo has room again: its agent says `ready up N%`, and HAProxy sets it UP
    // (or "UP 2/3": a TCP check that came while the listener was paused counts one failure).
    const answered = Date.now();
    await waitFor(dir, 'a', 'UP', up, 3000);
    expect(Date.now() - answered).toBeLessThan(3000);
    const row = (await showStat(dir)).find((r) => r.svname === 'a')!;
    expect(row.agent_status).toBe('L7OK'); // the agent's last answer was read: `ready up N%`
    expect(Number(row.weight)).toBeGreaterThan(0);
    expect(await ask(frontendPort, '/after')).toEqual({ status: 200, servedBy: demoPid });
  });
});
