#!/usr/bin/env node
// The package's command: `npx tcp-liveness inspect [pid]` (src/cli/inspect.ts).
'use strict';
require('../dist/cli/inspect.js').main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err); process.exitCode = 1; },
);
