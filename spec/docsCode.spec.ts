/* Every TypeScript block in README.md and docs/*.md compiles against the package as it is
 * (`rxjs-listen` and its subpaths resolve to src/, as tsconfig.json's paths say): each block a
 * module of its own, strict, with top-level await; an error is reported at its line in the doc. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(__dirname, '..');
const docs = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];

/** The ```ts blocks of a Markdown file: their code and the doc line their first line is on. */
function blocks(file: string): { code: string; line: number }[] {
  const found: { code: string; line: number }[] = [];
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue;
    const start = i + 1;
    while (++i < lines.length && !lines[i].startsWith('```'));
    found.push({ code: lines.slice(start, i).join('\n'), line: start + 1 });
  }
  return found;
}

it('compiles every TypeScript block of the README and the guides', () => {
  const dir = join(root, 'build', 'doc-blocks'); // inside the repository: node_modules resolve from here
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const where = new Map<string, { file: string; line: number }>();
  for (const file of docs) {
    blocks(file).forEach(({ code, line }, n) => {
      const name = `${file.replace(/[/.]/g, '_')}_${n}.ts`;
      writeFileSync(join(dir, name), `${code}\nexport {};\n`);
      where.set(name, { file, line });
    });
  }
  expect(where.size).toBeGreaterThan(10);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true, noEmit: true, target: 'ES2022', module: 'ESNext', moduleResolution: 'bundler', lib: ['ES2022'], types: ['node'], skipLibCheck: true, esModuleInterop: true,
        paths: { 'rxjs-listen': [join(root, 'src', 'index.ts')], 'rxjs-listen/*': [join(root, 'src', '*', 'index.ts')] },
      },
      include: ['*.ts'],
    }),
  );
  let output = '';
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8', timeout: 120_000 });
  } catch (error) {
    output = String((error as { stdout?: string }).stdout ?? error);
  }
  // Each error at the doc's own line: README.md:42:7 error TS2304: Cannot find name 'app'.
  const errors = output
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.replace(/^(?:.*\/)?([^/(]+\.ts)\((\d+),(\d+)\)/, (_, name: string, line: string, column: string) => {
      const at = where.get(name);
      return at === undefined ? `${relative(root, name)}:${line}:${column}` : `${at.file}:${at.line + Number(line) - 1}:${column}`;
    }));
  expect(errors).toEqual([]);
}, 120_000);
