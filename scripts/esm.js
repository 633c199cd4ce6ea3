// Writes the ESM entry points: thin re-exports of the CommonJS build, so `import` and
// `require` share one instance of the module state (one monitor registry, one poller).
'use strict';
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');
const dist = join(__dirname, '..', 'dist');
for (const name of process.argv.slice(2).length ? process.argv.slice(2) : ['index']) {
  writeFileSync(join(dist, `${name}.mjs`), `export * from './${name}.js';\n`);
}
