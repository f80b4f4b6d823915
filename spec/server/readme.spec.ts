/* The README's one call, run as a user would paste it (its ports made free ones): it serves,
 * and SIGTERM ends it by itself with status 0. At most 15 lines. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { ModuleKind, ScriptTarget, transpileModule } from 'typescript';

const root = join(__dirname, '..', '..');

it("runs the README's one call: served, then SIGTERM drains and exits 0", async () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = /## The one call\n+```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block).toBeDefined();
  expect(block!.trimEnd().split('\n').length).toBeLessThanOrEqual(15);
  const code = block!.replace('port: 8080', 'port: 0').replace('healthPort: 9090', 'healthPort: 0');
  expect(code).not.toBe(block);
  // Inside the package: Node resolves `rxjs-listen` to dist/ through its own "exports".
  const file = join(root, 'build', 'readme-example.mjs');
  writeFileSync(file, transpileModule(code, { compilerOptions: { module: ModuleKind.ESNext, target: ScriptTarget.ES2022 } }).outputText);
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  try {
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const port = Number(/port: (\d+)/.exec(line.toString())?.[1]);
    expect(line.toString()).toMatch(/^listening on /);
    const body = await new Promise<string>((resolve, reject) => {
      get({ host: '127.0.0.1', port, agent: false, timeout: 3000 }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    expect(body).toBe('hello\n');
    child.kill('SIGTERM');
    expect(await exited).toEqual([0, null]); // drained (1 s of quiet), then nothing kept it alive
  } finally {
    child.kill('SIGKILL');
  }
}, 15_000);
