/* The small examples in demo/ (HTTPS, TLS, HTTP over a Unix socket), started as users would. */
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as getHttp, type IncomingMessage } from 'node:http';
import { get as getHttps } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { startScript, stopDemo } from './support/demo';

const build = join(__dirname, '..', 'build', 'demo');
const ca = readFileSync(join(__dirname, '..', 'demo', 'certs', 'localhost-cert.pem'));

async function text(response: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of response) body += String(chunk);
  return body;
}

describe('the examples', () => {
  const started: { child: import('node:child_process').ChildProcess }[] = [];
  afterEach(() => started.splice(0).forEach(({ child }) => child.exitCode === null && child.kill('SIGKILL')));

  it('serves HTTPS (demo/https.ts)', async () => {
    const example = await startScript(join(build, 'https.js'), ['--port', '0']);
    started.push(example);
    const port = Number(/^listening on https:\/\/127\.0\.0\.1:(\d+)$/.exec(example.line)![1]);
    const [response] = (await once(getHttps({ host: 'localhost', port, ca, agent: false }), 'response')) as [IncomingMessage];
    expect(await text(response)).toBe('hello over https, GET /\n');
    expect(await stopDemo(example)).toBe(0);
  });

  it('echoes over TLS (demo/tls.ts)', async () => {
    const example = await startScript(join(build, 'tls.js'), ['--port', '0']);
    started.push(example);
    const port = Number(/^listening on tls:\/\/127\.0\.0\.1:(\d+)$/.exec(example.line)![1]);
    const client = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
    await once(client, 'secureConnect');
    client.write('ping');
    const [echo] = (await once(client, 'data')) as [Buffer];
    expect(echo.toString()).toBe('ping');
    client.destroy();
    expect(await stopDemo(example)).toBe(0);
  });

  it('serves HTTP over a Unix socket (demo/unix.ts)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rxjs-listen-example-'));
    try {
      const path = join(dir, 'demo.sock');
      const example = await startScript(join(build, 'unix.js'), ['--path', path]);
      started.push(example);
      expect(example.line).toBe(`listening on unix://${path}`);
      const [response] = (await once(getHttp({ socketPath: path, path: '/x', agent: false }), 'response')) as [IncomingMessage];
      expect(await text(response)).toBe('hello over a unix socket, /x\n');
      expect(await stopDemo(example)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
