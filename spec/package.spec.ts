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
    // --ignore-scripts: dist/ is built once before the suite (spec/support/build.js); rebuilding it
    // here would pull it from under the demos other specs run.
    execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', dir], { cwd: root, stdio: 'pipe', timeout: 120_000 });
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
    const installed = join(dir, 'node_modules', 'rxjs-listen');
    mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['-xzf', join(dir, tarball), '-C', installed, '--strip-components=1']);
    // The peer dependency, and @types/node, as the consumer's own install would provide them.
    symlinkSync(join(root, 'node_modules', 'rxjs'), join(dir, 'node_modules', 'rxjs'), 'dir');
    mkdirSync(join(dir, 'node_modules', '@types'));
    symlinkSync(join(root, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'), 'dir');
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ships the builds, the types, the guides and the changelog, and nothing else', () => {
    const files = (sub: string) => readdirSync(join(dir, 'node_modules', 'rxjs-listen', sub));
    expect(files('.').sort()).toEqual(['CHANGELOG.md', 'README.md', 'dist', 'docs', 'package.json']);
    // The folders of src/, and nothing left over from an earlier layout (the build starts clean).
    expect(files('dist/cjs').sort()).toEqual(['balancer', 'errors', 'index.d.ts', 'index.js', 'limit', 'metrics', 'operators', 'overload', 'protocol', 'proxy', 'server', 'source', 'util']);
    expect(files('dist/cjs/source')).toEqual(expect.arrayContaining(['listen.js', 'listen.d.ts']));
    expect(files('dist/esm').sort()).toEqual(['balancer.mjs', 'errors.mjs', 'index.mjs', 'metrics.mjs', 'overload.mjs', 'proxy.mjs']);
    // The guides the README links, shipped with it.
    expect(files('docs').sort()).toEqual(expect.arrayContaining(['deployment.md', 'errors.md', 'frameworks.md', 'options.md', 'overload.md', 'overload.svg', 'pipeline.md']));
  });

  it('loads from CommonJS', () => {
    writeFileSync(join(dir, 'consumer.cjs'), "const { listen, Limiter } = require('rxjs-listen'); console.log(typeof listen, new Limiter(2).limit);");
    expect(node(['consumer.cjs'], dir).trim()).toBe('function 2');
  });

  it('has a small root and its subpaths, each from CommonJS and from an ES module, sharing one copy of the code', () => {
    const entries = ['rxjs-listen', 'rxjs-listen/overload', 'rxjs-listen/balancer', 'rxjs-listen/metrics', 'rxjs-listen/proxy', 'rxjs-listen/errors'];
    writeFileSync(join(dir, 'entries.cjs'), `console.log(JSON.stringify(${JSON.stringify(entries)}.map((e) => Object.keys(require(e)).length)));`);
    const counts = JSON.parse(node(['entries.cjs'], dir)) as number[];
    expect(counts[0]).toBeLessThanOrEqual(20); // the root: the one call and the pipeline
    expect(counts.every((n) => n > 0)).toBe(true);
    writeFileSync(
      join(dir, 'entries.mjs'),
      "import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\n" +
        `const same = [];\nfor (const e of ${JSON.stringify(entries)}) { const esm = await import(e); const cjs = require(e); same.push(Object.keys(cjs).filter((k) => k !== '__esModule').every((k) => esm[k] === cjs[k])); }\nconsole.log(JSON.stringify(same));`,
    );
    expect(JSON.parse(node(['entries.mjs'], dir))).toEqual(entries.map(() => true));
  });

  it("serves the loop's metrics on an application's own /metrics with prom-client, beside its others", () => {
    symlinkSync(join(root, 'node_modules', 'prom-client'), join(dir, 'node_modules', 'prom-client'), 'dir');
    writeFileSync(
      join(dir, 'prom.cjs'),
      [
        "const http = require('node:http');",
        "const { collectDefaultMetrics, register } = require('prom-client');",
        "const { listenAndServe } = require('rxjs-listen');",
        "const { collectMetrics } = require('rxjs-listen/metrics');",
        'collectDefaultMetrics();',
        "const app = http.createServer(async (q, r) => (q.url === '/metrics' ? r.end(await register.metrics()) : r.end('hi')));",
        "const server = listenAndServe(app, { port: 0, host: '127.0.0.1', signals: false, drainMs: 0, logger: false });",
        'collectMetrics(server);',
        'server.ready.then(({ address }) => http.get({ host: "127.0.0.1", port: address.port, path: "/metrics", agent: false }, (res) => {',
        "  let text = ''; res.on('data', (c) => (text += c)); res.on('end', () => {",
        "    console.log(['process_cpu_user_seconds_total', 'rxjs_listen_accepted_total 1', 'rxjs_listen_dropped_total{reason=\"limit\"} 0', 'rxjs_listen_queue_wait_seconds_count 0', 'rxjs_listen_phase{phase=\"accepting\"} 1'].filter((n) => !text.includes(n)).join(',') || 'all');",
        '    void server.close();',
        '  });',
        '}));',
      ].join('\n'),
    );
    expect(node(['prom.cjs'], dir).trim()).toBe('all'); // and it exited by itself after close()
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
        "import { backpressure, handleErrors, listen, listenAndServe, serve, type Admitted, type AcceptWarning } from 'rxjs-listen';",
        "import { targetLimit } from 'rxjs-listen/overload';",
        "import { LoopStatus } from 'rxjs-listen/balancer';",
        "import { toPrometheus, type AcceptStats } from 'rxjs-listen/metrics';",
        "import { proxyProtocol } from 'rxjs-listen/proxy';",
        "import { errorHint } from 'rxjs-listen/errors';",
        "void [targetLimit, LoopStatus, toPrometheus, proxyProtocol, errorHint, listenAndServe];",
        "const text: string = toPrometheus({} as AcceptStats); void text;",
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
    expect(() => node([join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], dir)).not.toThrow();
  });

  it('type-checks, declarations included, for a consumer with default settings and @types/node installed', () => {
    // TypeScript 6 includes no @types package unless told (`types` defaults to []): the
    // declarations name `node:net` and `NodeJS`, so they must reference @types/node themselves.
    const consumer = [
      "import { handleErrors, listen, ListenError, type AcceptResult } from 'rxjs-listen';",
      "import { heapUsedMiB } from 'rxjs-listen/overload';",
      'heapUsedMiB({ every: 100 }).subscribe((mib) => console.log(mib.toFixed(1)));',
      "const show = (r: AcceptResult): string => (r.type === 'error' ? `${r.error.code} ${r.error.syscall}` : `${r.socket.remoteAddress}`);",
      'listen({ port: 0 }).pipe(handleErrors()).subscribe({',
      '  next: (c) => {',
      '    // @ts-expect-error: a Socket is no string (were the Node types lost, it would be `any` and this line an error)',
      '    const notAString: string = c.socket;',
      '    console.log(show(c), c.socket.setNoDelay(true).localPort, notAString);',
      '  },',
      '  error: (e: unknown) => console.error(e instanceof ListenError ? e.hint : e),',
      '});',
      '',
    ].join('\n');
    writeFileSync(join(dir, 'default.ts'), consumer);
    writeFileSync(join(dir, 'default.mts'), consumer);
    // No `types`, no `typeRoots`, no `skipLibCheck`: the package's .d.ts files are checked too.
    writeFileSync(join(dir, 'tsconfig.default.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, module: 'nodenext' }, files: ['default.ts', 'default.mts'] }));
    let errors = '';
    try {
      node([join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.default.json'], dir);
    } catch (error) {
      errors = `${(error as { stdout?: string }).stdout ?? ''}${String(error)}`;
    }
    expect(errors).toBe(''); // before the reference: "Cannot find name 'node:net'" in dist/cjs/*.d.ts
  }, 90_000); // checking @types/node and rxjs's declarations takes tsc about 9 s of CPU
});
