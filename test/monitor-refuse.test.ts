// The monitor refuses, at add(), what it could not watch as asked, rather than accept it and
// never check it: anything that is not TCP, and heartbeats or idle events where TCP_INFO lacks
// the last-receive times they are judged by.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { LivenessMonitor } from '../src';
import { cleanup, track } from './helpers';
import { notHere } from './netns/gate';

const monitors: LivenessMonitor[] = [];
afterEach(async () => {
  for (const m of monitors.splice(0)) m.close();
  await cleanup();
});

async function unixPair(): Promise<{ server: net.Server; client: net.Socket; accepted: net.Socket }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-unix-'));
  const server = track(net.createServer());
  server.listen(path.join(dir, 's'));
  await once(server, 'listening');
  const arrived = once(server, 'connection') as Promise<[net.Socket]>;
  const client = track(net.connect(path.join(dir, 's')));
  await once(client, 'connect');
  const [accepted] = await arrived;
  track(accepted);
  return { server, client, accepted };
}

describe('LivenessMonitor refuses what it cannot watch', () => {
  it('a Unix domain socket or server is refused with an error that says why, and nothing is left registered', async () => {
    const { server, client, accepted } = await unixPair();
    for (const options of [{}, { keepAlive: { idle: 1000 } }, { heartbeat: { interval: 100, timeout: 100, send: () => {} } }]) {
      const m = new LivenessMonitor(options);
      monitors.push(m);
      for (const target of [client, accepted, server]) {
        assert.throws(() => m.add(target), (err: NodeJS.ErrnoException) => {
          assert.ok(err instanceof TypeError);
          assert.equal(err.code, 'ERR_INVALID_ARG_VALUE');
          assert.match(err.message, /TCP connections only/);
          assert.match(err.message, /Unix domain socket/);
          return true;
        });
        assert.equal(m.has(target), false);
      }
      assert.equal(m.size, 0);
      assert.equal(m.stats().servers, 0);
    }
    assert.equal(client.destroyed, false, 'a refused socket is left as it was');
  });

  // qemu-user runs a program on the real kernel but fills 4 bytes of TCP_INFO: the monitor, run
  // under it, meets a short TCP_INFO through its real path (addon, kernel, decoder).
  const qemu = ['/usr/bin/qemu-x86_64-static', '/usr/bin/qemu-x86_64'].find((p) => fs.existsSync(p));
  const native = process.arch === 'x64';
  it('under qemu-user (4 bytes of TCP_INFO): heartbeat and idle settings throw, keepalive alone is watched and a FIN still reported', async function () {
    if (!qemu || !native) notHere(this, 'the short TCP_INFO test', 'it needs qemu-x86_64(-static) on an x86_64 host');
    this.timeout(120_000);
    const dist = path.join(__dirname, '..', 'dist');
    assert.ok(fs.existsSync(path.join(dist, 'index.js')), 'dist/ is missing: run `npm run build:ts` first');
    const script = `
      const net = require('node:net');
      const { once } = require('node:events');
      const { LivenessMonitor, tcpInfo } = require(${JSON.stringify(dist)});
      (async () => {
        const server = net.createServer({ pauseOnConnect: true }).listen(0, '127.0.0.1');
        await once(server, 'listening');
        const arrived = once(server, 'connection');
        const client = net.connect(server.address().port, '127.0.0.1');
        await once(client, 'connect');
        const [socket] = await arrived;
        const out = { lastDataRecv: tcpInfo(socket).lastDataRecv };
        const m = new LivenessMonitor();
        for (const [name, options] of [
          ['heartbeat', { heartbeat: { interval: 100, timeout: 100, send: () => {} } }],
          ['idle', { idle: { read: 100 } }],
        ]) {
          try { m.add(socket, options); out[name] = 'accepted'; } catch (err) { out[name] = [err.code, err.message]; }
        }
        out.watchedAfterRefusals = m.size;
        const hbServer = new LivenessMonitor({ heartbeat: { interval: 100, timeout: 100, send: () => {} } });
        try { hbServer.add(server); out.server = 'accepted'; } catch (err) { out.server = err.code; }
        m.add(socket, { keepAlive: { idle: 1000, interval: 1000, count: 2 } });
        const dead = new Promise((resolve) => m.once('dead', (s, reason) => resolve(reason)));
        client.end();
        out.dead = await dead;
        console.log(JSON.stringify(out));
        process.exit(0);
      })();`;
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(qemu!, [process.execPath, '-e', script], { timeout: 100_000 }, (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)));
    });
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    assert.equal(out.lastDataRecv, undefined, 'qemu-user gives a short TCP_INFO (else this test proves nothing)');
    for (const name of ['heartbeat', 'idle']) {
      assert.equal(out[name][0], 'ERR_TCP_LIVENESS_UNSUPPORTED', `${name}: ${out[name]}`);
      assert.match(out[name][1], /filled only 4 bytes of TCP_INFO/);
    }
    assert.equal(out.watchedAfterRefusals, 0);
    assert.equal(out.server, 'ERR_TCP_LIVENESS_UNSUPPORTED');
    assert.equal(out.dead, 'peer-closed', 'keepalive-only is watched: the FIN is found');
  });
});

