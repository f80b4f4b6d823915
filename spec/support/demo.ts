/* Runs the compiled demo in a child process (optionally under `ulimit -n`) and talks HTTP to
 * it on loopback. Each spec kills only the child it started, by its PID. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { get } from 'node:http';
import { join } from 'node:path';

const demo = join(__dirname, '..', '..', 'build', 'demo', 'server.js');

export interface Demo {
  child: ChildProcess;
  port: number;
  stderr(): string;
  /** Everything it printed on stdout so far (the ready line, then `health on ...`, ...). */
  stdout(): string;
}

/** Starts the demo on a free port with `args`, optionally under `ulimit -n` and with flags for node itself. */
export async function startDemo(args: string[], ulimit?: number, nodeFlags: string[] = []): Promise<Demo> {
  const started = await startScript(demo, ['--port', '0', ...args], ulimit, nodeFlags);
  const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(started.line);
  if (!match) {
    started.child.kill('SIGKILL');
    throw new Error(`the demo did not start: ${started.line} ${started.stderr()}`);
  }
  return { ...started, port: Number(match[1]) };
}

/** Starts a compiled script, resolving with its first stdout line (`listening on ...`). */
export async function startScript(script: string, args: string[], ulimit?: number, nodeFlags: string[] = []): Promise<Omit<Demo, 'port'> & { line: string }> {
  const command = [process.execPath, ...nodeFlags, script, ...args].map((a) => `'${a}'`).join(' ');
  const child = spawn('bash', ['-c', `${ulimit ? `ulimit -n ${ulimit} && ` : ''}exec ${command}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const deadline = new Promise<[string]>((resolve) => setTimeout(() => resolve(['timeout']), 10_000).unref());
  const [line] = (await Promise.race([once(child.stdout!, 'data'), deadline])) as [Buffer | string];
  return { child, line: line.toString().split('\n')[0]!.trim(), stderr: () => stderr, stdout: () => stdout };
}

/** Stops the demo gracefully and resolves with its exit code. */
export async function stopDemo(demo: Pick<Demo, 'child'>): Promise<number | null> {
  if (demo.child.exitCode !== null) return demo.child.exitCode;
  demo.child.kill('SIGTERM');
  const [code] = (await once(demo.child, 'exit')) as [number | null];
  return code;
}

/** GET path; resolves with the body, rejects on any error or after 3 s. */
export function httpGet(port: number, path: string, localAddress?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, timeout: 3000, agent: false, localAddress }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
  });
}
