// The shipped prebuilds, where official Node 22 runs: the package is built (`npm run prebuild`,
// `npm pack`), installed without scripts (no compiler runs), and smoke-tested (test/platform/smoke.cjs:
// keepalive set and read back, a monitor reports an RST) in a Debian 11 root by official x64 Node 22
// (chroot), and as linux-arm64 by official arm64 Node 22 under qemu-user.
// Run by `npm run test:platform` (and .ci/run), not by `npm test`: it builds both prebuilds, and
// the first run makes the Debian root (about 2.5 minutes, then cached). Needs root (debootstrap,
// chroot) and the packages .ci/run installs: debootstrap, qemu-user-static, g++-aarch64-linux-gnu.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { nodeDist, PINNED } = require('../../scripts/node-dist.js') as {
  nodeDist(line: number, arch?: string): string; PINNED: Record<number, string>;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { inspect, FLOOR } = require('../../scripts/check-symbols.js') as {
  inspect(file: string): { maxima: Record<string, string>; above: string[]; needed: string[] };
  FLOOR: Record<string, string>;
};

const run = (cmd: string, args: string[], options: { cwd?: string; timeout?: number } = {}) =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });

const prebuild = (arch: string) => path.join(root, 'prebuilds', `linux-${arch}`, 'tcp-liveness.glibc.node');
const EM_X86_64 = 62;
const machineOf = (file: string) => fs.readFileSync(file).readUInt16LE(18);

interface Smoke {
  node: string; arch: string; binary: string;
  keepAlive: { enable: boolean; idle: number; interval: number; count: number; userTimeout: number };
  dead: { same: boolean; reason: string; code: string | null };
}

function assertSmoke(out: string, arch: string): void {
  const smoke = JSON.parse(out.trim().split('\n').pop()!) as Smoke;
  assert.equal(smoke.node, `v${PINNED[22]}`);
  assert.equal(smoke.arch, arch);
  // The prebuild, not a build/ directory: the package has none, and nothing compiled it here.
  assert.equal(smoke.binary, `prebuilds/linux-${arch}/tcp-liveness.glibc.node`);
  assert.deepEqual(smoke.keepAlive, { enable: true, idle: 5000, interval: 1000, count: 4, userTimeout: 9000 });
  assert.deepEqual(smoke.dead, { same: true, reason: 'reset', code: 'ECONNRESET' });
}

describe('prebuilds on the platforms official Node 22 runs on', function () {
  this.timeout(600_000);
  let tarball = '';
  let work = '';

  before(() => {
    assert.equal(process.platform, 'linux');
    assert.equal(process.arch, 'x64', 'the platform tests cross-build from linux-x64');
    run('npm', ['run', 'prebuild'], { cwd: root, timeout: 300_000 });
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-platform-'));
    tarball = path.join(work, run('npm', ['pack', '--pack-destination', work], { cwd: root }).trim().split('\n').pop()!);
  });

  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it('both prebuilds ask for nothing newer than glibc 2.28 and libstdc++ GLIBCXX_3.4.21', () => {
    for (const arch of ['x64', 'arm64']) {
      const { above, maxima, needed } = inspect(prebuild(arch));
      assert.deepEqual(above, [], `linux-${arch} above the floor ${JSON.stringify(FLOOR)}`);
      assert.ok(maxima.GLIBC, `linux-${arch} imports versioned glibc symbols (objdump read it)`);
      assert.ok(needed.includes('libc.so.6'));
    }
  });

  it('the symbol check fails a binary that needs GCC 11\'s libstdc++, as Debian 11 does', () => {
    // std::allocator<T>::allocate, built with this machine's g++, imports GLIBCXX_3.4.29: the
    // reference the addon's floor shim removes.
    const src = path.join(work, 'probe.cc');
    const lib = path.join(work, 'probe.so');
    fs.writeFileSync(src, '#include <memory>\nextern "C" int *probe(unsigned long n) { return std::allocator<int>().allocate(n); }\n');
    run('g++', ['-O2', '-shared', '-fPIC', '-o', lib, src]);
    assert.deepEqual(inspect(lib).above, ['GLIBCXX_3.4.29 (_ZSt28__throw_bad_array_new_lengthv)']);
    const check = spawnSync(process.execPath, [path.join(root, 'scripts', 'check-symbols.js'), lib], { encoding: 'utf8' });
    assert.equal(check.status, 1, check.stdout + check.stderr);
  });

  it('build/ never holds the cross-compiled arm64 binary (node-gyp-build would load it first)', () => {
    const found: string[] = [];
    const walk = (dir: string) => {
      for (const e of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.node')) found.push(p);
      }
    };
    walk(path.join(root, 'build'));
    for (const file of found) assert.equal(machineOf(file), EM_X86_64, `${file} is not an x86-64 binary`);
    assert.equal(machineOf(prebuild('x64')), EM_X86_64);
    assert.equal(machineOf(prebuild('arm64')), 183); // EM_AARCH64
  });

  describe('in a Debian 11 root (glibc 2.31, GCC 10\'s libstdc++), official Node 22', () => {
    let debian = '';
    let app = '';

    before(function () {
      const made = spawnSync('bash', [path.join(root, 'scripts', 'debian-root.sh')], { encoding: 'utf8', timeout: 540_000 });
      if (made.status === 3) {
        // Debian 11's LTS ended in August 2026; once bullseye leaves the mirror no root can be made.
        console.log(`      Debian 11 (bullseye) is no longer on the mirror: the Debian 11 smoke test cannot run.\n      ${made.stderr.trim().split('\n').pop()}\n      (the symbol-floor check above still ran)`);
        this.skip();
      }
      assert.equal(made.status, 0, `scripts/debian-root.sh failed:\n${made.stderr}`);
      debian = made.stdout.trim();
      assert.match(fs.readFileSync(path.join(debian, 'etc', 'debian_version'), 'utf8'), /^11\./);
      // Official Node 22 inside the root (a hard link into the cache where possible: 120 MB).
      const node = path.join(debian, 'opt', `node-${PINNED[22]}`, 'bin', 'node');
      if (!fs.existsSync(node)) {
        fs.mkdirSync(path.dirname(node), { recursive: true });
        const official = path.join(nodeDist(22), 'bin', 'node');
        try { fs.linkSync(official, node); } catch { fs.copyFileSync(official, node); fs.chmodSync(node, 0o755); }
      }
      app = fs.mkdtempSync(path.join(debian, 'opt', 'tl-smoke-'));
      fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'smoke', private: true }));
      run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', tarball], { cwd: app, timeout: 120_000 });
      fs.copyFileSync(path.join(__dirname, 'smoke.cjs'), path.join(app, 'smoke.cjs'));
    });

    after(() => { if (app) fs.rmSync(app, { recursive: true, force: true }); });

    const inRoot = (p: string) => `/${path.relative(debian, p)}`;
    // In a mount namespace of its own, so the root's /proc (the inventory reads /proc/self/fd)
    // is unmounted by the kernel when the command ends, however it ends. LD_BIND_NOW: every
    // import is bound at load, so one the old glibc lacks fails here, not on its first call.
    const chrootNode = (args: string[]) => spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
      'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"', debian, `/opt/node-${PINNED[22]}/bin/node`, ...args],
    { encoding: 'utf8', timeout: 60_000, env: { ...process.env, LD_BIND_NOW: '1' } });

    it('is a root whose libstdc++ stops below GLIBCXX_3.4.29: a binary built plainly here fails to load', () => {
      const lib = path.join(app, 'probe.so');
      fs.copyFileSync(path.join(work, 'probe.so'), lib);
      const r = chrootNode(['-e', `process.dlopen({ exports: {} }, ${JSON.stringify(inRoot(lib))})`]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /version `GLIBCXX_3\.4\.29' not found/);
    });

    it('loads the x64 prebuild: keepalive set and read back, a monitor reports an RST', () => {
      const r = chrootNode([inRoot(path.join(app, 'smoke.cjs'))]);
      assert.equal(r.status, 0, r.stderr);
      assertSmoke(r.stdout, 'x64');
    });

    it('takes the connection inventory there (/proc, NETLINK_SOCK_DIAG)', () => {
      const file = path.join(app, 'inventory.cjs');
      fs.writeFileSync(file, `const { connections } = require('tcp-liveness');
const net = require('node:net');
const server = net.createServer().listen(0, '127.0.0.1', () => {
  const client = net.connect(server.address().port, '127.0.0.1', () => {
    const { summary, connections: list } = connections();
    console.log(JSON.stringify({ states: summary.states, listening: summary.listening, mine: list.some((c) => c.socket === client) }));
    client.destroy();
    server.close();
  });
});
`);
      const r = chrootNode([inRoot(file)]);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { states: { ESTABLISHED: 2 }, listening: 1, mine: true });
    });

    it('loads it as ESM too', () => {
      const file = path.join(app, 'esm.mjs'); // a file in the app, so 'tcp-liveness' resolves from it
      fs.writeFileSync(file, "import { getKeepAlive, supported } from 'tcp-liveness';\nconsole.log(typeof getKeepAlive, supported.platform);\n");
      const r = chrootNode([inRoot(file)]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'function linux');
    });
  });

  describe('as linux-arm64 under qemu-user, official arm64 Node 22', () => {
    it('loads the arm64 prebuild: keepalive set and read back, a monitor reports an RST', () => {
      const app = fs.mkdtempSync(path.join(work, 'arm64-'));
      fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'smoke', private: true }));
      // npm itself picks nothing by architecture here: the package's prebuilds are chosen at load time.
      run('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', tarball], { cwd: app, timeout: 120_000 });
      fs.copyFileSync(path.join(__dirname, 'smoke.cjs'), path.join(app, 'smoke.cjs'));
      // The cross toolchain's aarch64 glibc and libstdc++ (/usr/aarch64-linux-gnu) serve as the
      // target's libraries; the arm64 floor itself is what the symbol check above proves.
      const node = path.join(nodeDist(22, 'arm64'), 'bin', 'node');
      const r = spawnSync('qemu-aarch64-static', ['-L', '/usr/aarch64-linux-gnu', node, 'smoke.cjs'],
        { cwd: app, encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr);
      assertSmoke(r.stdout, 'arm64');
    });
  });
});
