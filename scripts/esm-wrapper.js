// Writes dist/esm/index.mjs: an ES module that re-exports the CommonJS build by name. One copy
// of the code for both module systems (Node's "ES module wrapper" for dual packages), so a
// Limiter made by `import` is the Limiter `require` sees: no dual-package hazard.
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dist = join(__dirname, '..', 'dist');
const names = Object.keys(require(join(dist, 'cjs', 'index.js'))).filter((name) => name !== '__esModule').sort();
mkdirSync(join(dist, 'esm'), { recursive: true });
writeFileSync(
  join(dist, 'esm', 'index.mjs'),
  `import cjs from '../cjs/index.js';\n\nexport const {\n${names.map((n) => `  ${n},`).join('\n')}\n} = cjs;\n`,
);
console.error(`dist/esm/index.mjs: ${names.length} exports`);
