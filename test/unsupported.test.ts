// What a non-Linux machine gets: the same glue built over native/unsupported.cc (the file
// binding.gyp picks for every other OS), loaded by the same dist/ code. It must load, say what
// is unsupported, and refuse every call clearly instead of silently doing nothing.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.join(__dirname, '..');

describe('on a platform other than Linux', function () {
  this.timeout(120_000);
  let dir = '';

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-unsupported-'));
    fs.mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
    const nodeHeaders = path.join(path.dirname(process.execPath), '..', 'include', 'node');
    execFileSync('g++', ['-std=c++17', '-shared', '-fPIC', '-DNAPI_VERSION=8', '-DNAPI_DISABLE_CPP_EXCEPTIONS',
      `-I${nodeHeaders}`, `-I${require('node-addon-api').include_dir}`,
      path.join(root, 'native', 'binding.cc'), path.join(root, 'native', 'unsupported.cc'),
      '-o', path.join(dir, 'build', 'Release', 'tcp_liveness.node')]);
    fs.cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true });
    fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('loads, reports nothing supported, and every call throws ERR_TCP_LIVENESS_UNSUPPORTED naming the option', () => {
    const out = execFileSync(process.execPath, ['-e', `
      const t = require(${JSON.stringify(path.join(dir, 'dist'))});
      const net = require('node:net');
      const server = net.createServer().listen(0, '127.0.0.1', async () => {
        const gone = new net.Socket();
        gone.destroy();
        const results = { supported: t.supported, invalid: t.readiness(gone).invalid };
        const calls = {
          setKeepAlive: () => t.setKeepAlive(server, { idle: 1000 }),
          getKeepAlive: () => t.getKeepAlive(server),
          takeSocketError: () => t.takeSocketError(server),
          readiness: () => t.readiness(server),
          peek: () => t.peek(server),
          tcpInfo: () => t.tcpInfo(server),
          getOption: () => t.getOption(server, 1, 9),
          monitor: () => new t.LivenessMonitor(),
        };
        for (const [name, call] of Object.entries(calls)) {
          try { call(); results[name] = 'no error'; } catch (e) { results[name] = [e.code, e.message]; }
        }
        try { await t.waitFor(server); results.waitFor = 'no error'; } catch (e) { results.waitFor = [e.code, e.message]; }
        console.log(JSON.stringify(results));
        server.close();
      });`], { encoding: 'utf8' });
    const r = JSON.parse(out);
    assert.ok(Object.entries(r.supported).every(([k, v]) => k === 'platform' || v === false), JSON.stringify(r.supported));
    assert.equal(r.invalid, true, 'a socket without an fd reads as invalid there too');
    const options: Record<string, string> = {
      setKeepAlive: 'SO_KEEPALIVE', getKeepAlive: 'SO_KEEPALIVE', takeSocketError: 'SO_ERROR', readiness: 'poll',
      peek: 'recv', tcpInfo: 'TCP_INFO', getOption: 'level 1 option 9', monitor: 'epoll_create1', waitFor: 'epoll_create1',
    };
    for (const [name, what] of Object.entries(options)) {
      const [code, message] = r[name];
      assert.equal(code, 'ERR_TCP_LIVENESS_UNSUPPORTED', `${name}: ${r[name]}`);
      assert.equal(message, `${what} is not supported on linux: tcp-liveness supports Linux`);
    }
  });
});
