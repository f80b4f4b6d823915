/*
 * The package as users get it: `npm pack`, unpacked into a temporary folder, then required
 * from CommonJS, imported from an ES module, and type-checked from TypeScript.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..');
const node = (args: string[], cwd: string) => execFileSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 60_000 });

describe('the npm package', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rxjs-listen-pack-'));
    execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: root, stdio: 'pipe', timeout: 120_000 });
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
    const installed = join(dir, 'node_modules', 'rxjs-listen');
    mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['-xzf', join(dir, tarball), '-C', installed, '--strip-components=1']);
    // The peer dependency, as the consumer's own install would provide it.
    symlinkSync(join(root, 'node_modules', 'rxjs'), join(dir, 'node_modules', 'rxjs'), 'dir');
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ships the builds, the types and the error guide, and nothing else', () => {
    const files = (sub: string) => readdirSync(join(dir, 'node_modules', 'rxjs-listen', sub));
    expect(files('.').sort()).toEqual(['README.md', 'dist', 'docs', 'package.json']);
    expect(files('dist/cjs')).toEqual(expect.arrayContaining(['index.js', 'index.d.ts', 'listen.js']));
    expect(files('dist/esm')).toEqual(['index.mjs']);
    expect(files('docs')).toEqual(['errors.md']);
  });

  it('loads from CommonJS', () => {
    writeFileSync(join(dir, 'consumer.cjs'), "const { listen, Limiter } = require('rxjs-listen'); console.log(typeof listen, new Limiter(2).limit);");
    expect(node(['consumer.cjs'], dir).trim()).toBe('function 2');
  });

  it('loads from an ES module, sharing one copy of the code with CommonJS', () => {
    writeFileSync(
      join(dir, 'consumer.mjs'),
      "import { listen, Limiter, backpressure } from 'rxjs-listen';\nimport { createRequire } from 'node:module';\n" +
        "const cjs = createRequire(import.meta.url)('rxjs-listen');\nconsole.log(typeof listen, typeof backpressure, Limiter === cjs.Limiter);",
    );
    expect(node(['consumer.mjs'], dir).trim()).toBe('function function true');
  });

  it('type-checks a TypeScript consumer', () => {
    writeFileSync(
      join(dir, 'consumer.ts'),
      [
        "import { backpressure, handleErrors, listen, serve, type Admitted, type AcceptWarning } from 'rxjs-listen';",
        "const log = (w: AcceptWarning): void => console.error(w.message, w.hint);",
        "listen({ port: 0 }).pipe(handleErrors(), backpressure(10), serve((c: Admitted) => void c.socket.end())).subscribe();",
        'void log;',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', types: [], typeRoots: [join(root, 'node_modules', '@types')], skipLibCheck: true }, files: ['consumer.ts'] }),
    );
    symlinkSync(join(root, 'node_modules', '@types'), join(dir, 'node_modules', '@types'), 'dir');
    expect(() => node([join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], dir)).not.toThrow();
  });
});
