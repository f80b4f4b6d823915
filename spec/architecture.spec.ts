/*
 * The layout of src/ follows the pipeline: each folder imports only from the folders below it
 * (and from itself), so a picture of the imports shows layers with no arrow running back up.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const src = join(__dirname, '..', 'src');
/**
 * Lowest first: shared helpers, what results are, the listener, the limit, overload, protocols,
 * operators, the PROXY protocol's entry, metrics, what balancers see, the one call. A folder's
 * index.ts is a package entry (`rxjs-listen/overload`, ...): it re-exports from any layer, at the top.
 */
const LAYERS = ['util', 'errors', 'source', 'limit', 'overload', 'protocol', 'operators', 'proxy', 'metrics', 'balancer', 'server', 'index.ts'];

function modules(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? modules(join(folder, entry.name)) : entry.name.endsWith('.ts') ? [join(folder, entry.name)] : [],
  );
}

const layerOf = (file: string): number => (/^[a-z]+\/index\.ts$/.test(relative(src, file)) ? LAYERS.length : LAYERS.indexOf(relative(src, file).split('/')[0]!));

describe('the layout of src/', () => {
  const files = modules(src);

  it('puts every module in a layer', () => {
    expect(files.filter((file) => layerOf(file) < 0).map((file) => relative(src, file))).toEqual([]);
  });

  it('has no import that runs back up a layer', () => {
    const upward: string[] = [];
    for (const file of files) {
      for (const [, target] of readFileSync(file, 'utf8').matchAll(/from '(\.[^']*)'/g)) {
        const imported = resolve(dirname(file), target!);
        if (layerOf(`${imported}.ts`) > layerOf(file)) upward.push(`${relative(src, file)} -> ${relative(src, imported)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('keeps one operator per file in operators/, named as its file', () => {
    const operators = readdirSync(join(src, 'operators')).filter((name) => name.endsWith('.ts'));
    for (const name of operators) {
      const exported = [...readFileSync(join(src, 'operators', name), 'utf8').matchAll(/^export function (\w+)/gm)].map(([, fn]) => fn);
      expect({ file: name, exported }).toEqual({ file: name, exported: [name.replace(/\.ts$/, '')] });
    }
  });
});
