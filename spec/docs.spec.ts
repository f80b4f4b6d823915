/* The API reference builds from the TSDoc, and every export is documented (TypeDoc's
 * notDocumented validation, warnings as errors). */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

it('generates the API reference with every export documented', () => {
  const root = join(__dirname, '..');
  const run = () => execFileSync(process.execPath, [join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--emit', 'none'], { cwd: root, encoding: 'utf8', stdio: 'pipe', timeout: 60_000 });
  expect(run).not.toThrow();
}, 60_000);
