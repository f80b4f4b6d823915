// Writes an ES module per entry of package.json's "exports" (dist/esm/index.mjs, dist/esm/overload.mjs,
// ...): each re-exports the CommonJS build by name. One copy of the code for both module systems
// (Node's "ES module wrapper" for dual packages), so a Limiter made by `import` is the Limiter
// `require` sees: no dual-package hazard.
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const { exports: entries } = require(join(root, 'package.json'));
mkdirSync(join(root, 'dist', 'esm'), { recursive: true });
for (const target of Object.values(entries)) {
  if (typeof target !== 'object') continue; // ./package.json
  const cjs = join(root, target.require);
  const names = Object.keys(require(cjs)).filter((name) => name !== '__esModule').sort();
  const esm = join(root, target.import);
  const from = require('node:path').relative(join(esm, '..'), cjs).replace(/\\/g, '/');
  writeFileSync(esm, `import cjs from '${from.startsWith('.') ? from : `./${from}`}';\n\nexport const {\n${names.map((n) => `  ${n},`).join('\n')}\n} = cjs;\n`);
}
