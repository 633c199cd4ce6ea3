#!/usr/bin/env node
// The rootless runner: `npx tcp-liveness-netns <command…>` (src/testing/runner.ts).
'use strict';
require('../dist/testing/runner.js').main(process.argv.slice(2));
