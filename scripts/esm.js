// Writes the ESM entry points: thin re-exports of the CommonJS build, so `import` and
// `require` share one instance of the module state (one monitor registry, one poller).
// Each entry gives its named exports and, as the default, the whole CommonJS module
// (`import tl from 'tcp-liveness'`). An entry is a path under dist/ without extension
// (`index`, `testing`, `testing/index`).
'use strict';
const { writeFileSync } = require('node:fs');
const { basename, join } = require('node:path');
const dist = join(__dirname, '..', 'dist');
for (const name of process.argv.slice(2).length ? process.argv.slice(2) : ['index']) {
  const cjs = `./${basename(name)}.js`;
  writeFileSync(join(dist, `${name}.mjs`), `export * from '${cjs}';\nimport all from '${cjs}';\nexport default all;\n`);
}
