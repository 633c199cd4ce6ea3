// The published package, as a user gets it: packed, installed without scripts (so without a
// compiler) into an empty project, then loaded through require, import and TypeScript.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.join(__dirname, '..');
const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('the packed package', function () {
  this.timeout(180_000);
  let dir = '';

  before(() => {
    if (!fs.existsSync(path.join(root, 'prebuilds', `${process.platform}-${process.arch}`))) {
      // The host's prebuild is all this test loads; the arm64 cross build needs a cross compiler.
      execFileSync('npm', ['run', 'prebuild'], { cwd: root, stdio: 'ignore', env: { ...process.env, PREBUILD_ARM64: '0' } });
    }
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-pack-'));
    const tarball = run('npm', ['pack', '--pack-destination', dir], root).trim().split('\n').pop()!;
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    // Its dependencies from this checkout's own node_modules (the lockfile's versions), copied in
    // (--install-links), so the install needs no registry: under tcp-liveness-netns there is none.
    const deps = Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).dependencies);
    run('npm', ['install', '--ignore-scripts', '--offline', '--install-links', '--no-audit', '--no-fund',
      path.join(dir, tarball), ...deps.map((d) => path.join(root, 'node_modules', d))], dir);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('ships compiled JS, types, native sources, binding.gyp and the prebuild, and nothing else', () => {
    const pkg = path.join(dir, 'node_modules', 'tcp-liveness');
    for (const f of ['dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/monitor.d.ts', 'dist/testing/index.js',
      'dist/testing/index.mjs', 'dist/testing/index.d.ts', 'dist/testing/testing-agent.js', 'dist/testing/runner.js', 'bin/tcp-liveness-netns.js', 'native/binding.cc',
      'native/linux.cc', 'binding.gyp', `prebuilds/${process.platform}-${process.arch}/tcp-liveness.glibc.node`]) {
      assert.ok(fs.existsSync(path.join(pkg, f)), `${f} is missing from the package`);
    }
    assert.equal(fs.existsSync(path.join(pkg, 'build')), false, 'no compiled build/ in the package');
    assert.equal(fs.existsSync(path.join(pkg, 'test')), false);
    assert.equal(fs.existsSync(path.join(pkg, 'src')), false);
    // The rootless runner is installed as a command (`npx tcp-liveness-netns …`).
    assert.match(run(path.join(dir, 'node_modules', '.bin', 'tcp-liveness-netns'), ['--help'], dir), /^usage: tcp-liveness-netns <command>/);
  });

  it('loads the prebuild through require and import, with no compiler having run', () => {
    const cjs = run('node', ['-e', `
      const t = require('tcp-liveness');
      const net = require('node:net');
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        t.setKeepAlive(s, { idle: 3000 });
        console.log(JSON.stringify({ idle: t.getKeepAlive(s).idle, monitor: typeof t.LivenessMonitor }));
        s.close();
      });`], dir);
    assert.deepEqual(JSON.parse(cjs), { idle: 3000, monitor: 'function' });
    const esm = run('node', ['--input-type=module', '-e', `
      import { setKeepAlive, LivenessMonitor, supported } from 'tcp-liveness';
      import * as all from 'tcp-liveness';
      import tl from 'tcp-liveness';
      console.log(typeof setKeepAlive, typeof LivenessMonitor, supported.platform, typeof all.probe,
        tl.setKeepAlive === setKeepAlive, Object.keys(tl.constants).some((k) => /POLL|SITES/.test(k)));`], dir);
    assert.equal(esm.trim(), `function function ${process.platform} function true false`);
  });

  it('type-checks a consumer in CommonJS and ESM', () => {
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const src = `import { setKeepAlive, LivenessMonitor, type Readiness, type DeadReason } from 'tcp-liveness';
import tl from 'tcp-liveness';
import * as net from 'node:net';
const m = new LivenessMonitor({ keepAlive: { idle: 1000 } });
m.on('dead', (socket: net.Socket, reason: DeadReason) => socket.destroy(new Error(reason)));
setKeepAlive(new net.Socket(), { idle: 1000, count: 3 });
const r: Readiness | undefined = undefined;
void r;
tl.setKeepAlive(new net.Socket(), { interval: 2000 });
`;
    fs.writeFileSync(path.join(dir, 'a.cts'), src);
    fs.writeFileSync(path.join(dir, 'b.mts'), src);
    // A misuse the types must catch.
    fs.writeFileSync(path.join(dir, 'bad.mts'), `import { setKeepAlive } from 'tcp-liveness';\nsetKeepAlive(3, { idle: '5' });\n`);
    const args = ['--noEmit', '--strict', '--module', 'node16', '--moduleResolution', 'node16', '--types', 'node',
      '--typeRoots', path.join(root, 'node_modules', '@types'), '--skipLibCheck'];
    run('node', [tsc, ...args, 'a.cts', 'b.mts'], dir);
    // Older setups (moduleResolution node10) ignore `exports`: typesVersions maps the subpath.
    fs.writeFileSync(path.join(dir, 'c.ts'), `import { keepAliveBound, type Death } from 'tcp-liveness/testing';
const bound: number = keepAliveBound(performance.now(), performance.now(), { idle: 1000, interval: 1000, count: 2 });
const death: Death | null = null;
void bound; void death;
`);
    const node10 = [...args.slice(0, 2), '--module', 'commonjs', '--moduleResolution', 'node10', ...args.slice(6)];
    run('node', [tsc, ...node10, 'c.ts'], dir);
    assert.throws(() => run('node', [tsc, ...args, 'bad.mts'], dir), (err: { stdout: string }) =>
      /bad\.mts.*'string' is not assignable to type 'number'/.test(err.stdout));
  });
});
