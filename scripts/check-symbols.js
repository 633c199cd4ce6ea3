#!/usr/bin/env node
// The prebuilds' symbol floor: each binary must load wherever official Node 22 runs.
//
//   node scripts/check-symbols.js [file.node ...]   (default: every prebuild under prebuilds/linux-*)
//
// Official Node 22+ binaries need glibc 2.28 and libstdc++ GLIBCXX_3.4.21 (GCC 5). A symbol version
// above those in `objdump -T` means `require()` fails on Debian 11, Ubuntu 20.04 or RHEL 8 with
// "version `GLIBCXX_3.4.29' not found" and nothing to fall back to, so this fails the build instead.
// Exit 0: every file at or under the floor; 1: a version above it (or one never seen before);
// 2: no file to check.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

// The newest version of each versioned library a prebuild may ask for. CXXABI_1.3.9 came with
// GCC 5 as GLIBCXX_3.4.21 did; GCC_7.0.0 is libgcc_s's, older than RHEL 8's GCC 8.
const FLOOR = { GLIBC: '2.28', GLIBCXX: '3.4.21', CXXABI: '1.3.9', GCC: '7.0.0' };
// The only shared libraries a prebuild may link: all are part of every glibc system Node runs on.
const ALLOWED_NEEDED = /^(libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s)\.so\.\d+$/;

const compare = (a, b) => {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) - (y[i] || 0);
  }
  return 0;
};

/** objdump for the file's machine: the host's cannot always read a foreign ELF. */
function objdumpFor(file) {
  const machine = fs.readFileSync(file).readUInt16LE(18); // e_machine
  if (machine === 183) return 'aarch64-linux-gnu-objdump'; // EM_AARCH64
  return 'objdump';
}

/** { maxima: { GLIBC: '2.14', ... }, above: ['GLIBCXX_3.4.29 (sym)'], needed: ['libc.so.6'] } */
function inspect(file) {
  const objdump = objdumpFor(file);
  const dynsyms = execFileSync(objdump, ['-T', file], { encoding: 'utf8' });
  const headers = execFileSync(objdump, ['-p', file], { encoding: 'utf8' });
  const maxima = {};
  const above = [];
  // An imported symbol: "0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.14) memcpy".
  for (const m of dynsyms.matchAll(/\*UND\*\s+\S+\s+(?:\(?([A-Z]+)_([0-9.]+)\)?)\s+(\S+)/g)) {
    const [, lib, version, symbol] = m;
    if (!maxima[lib] || compare(version, maxima[lib]) > 0) maxima[lib] = version;
    if (!(lib in FLOOR)) above.push(`${lib}_${version} (${symbol}: a library the floor does not know)`);
    else if (compare(version, FLOOR[lib]) > 0) above.push(`${lib}_${version} (${symbol})`);
  }
  const needed = [...headers.matchAll(/^\s*NEEDED\s+(\S+)/gm)].map((m) => m[1]);
  for (const lib of needed) if (!ALLOWED_NEEDED.test(lib)) above.push(`NEEDED ${lib} (not part of every glibc system)`);
  return { maxima, above, needed };
}

module.exports = { FLOOR, inspect };

if (require.main === module) {
  const root = path.join(__dirname, '..');
  let files = process.argv.slice(2);
  if (files.length === 0) {
    const dir = path.join(root, 'prebuilds');
    const platforms = fs.existsSync(dir) ? fs.readdirSync(dir).filter((d) => d.startsWith('linux-')) : [];
    files = platforms.flatMap((p) => fs.readdirSync(path.join(dir, p)).filter((f) => f.endsWith('.node')).map((f) => path.join(dir, p, f)));
  }
  if (files.length === 0) {
    console.error('check-symbols: no prebuild to check (run npm run prebuild)');
    process.exit(2);
  }
  let bad = 0;
  for (const file of files) {
    const { maxima, above, needed } = inspect(file);
    const shown = Object.entries(maxima).map(([lib, v]) => `${lib}_${v}`).join(' ');
    console.log(`${path.relative(root, file)}: highest ${shown || '(no versioned imports)'}; needs ${needed.join(' ')}`);
    for (const a of above) console.log(`  above the floor: ${a}`);
    if (above.length) bad++;
  }
  const floor = Object.entries(FLOOR).map(([lib, v]) => `${lib}_${v}`).join(', ');
  if (bad) {
    console.error(`check-symbols: ${bad} file(s) need more than ${floor}: they would not load on Debian 11 / RHEL 8`);
    process.exit(1);
  }
  console.log(`check-symbols: every file within ${floor}`);
}
