import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { LivenessMonitor } from '../src';
import { cleanup, pausedPair } from './helpers';

afterEach(cleanup);

const dist = path.join(__dirname, '..', 'dist');

// A worker with its own monitor on its own loop: it dials the given port, watches the
// connection and reports the death it sees.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const { LivenessMonitor } = require(${JSON.stringify(dist)});
const monitor = new LivenessMonitor({ heartbeat: { interval: 50, timeout: 5000, send: (s) => s.write('.') } });
const socket = net.connect(workerData.port, '127.0.0.1');
socket.on('error', () => {});
monitor.add(socket);
monitor.on('dead', (s, reason, error) => parentPort.postMessage({ reason, code: error && error.code }));
socket.on('connect', () => parentPort.postMessage({ connected: true }));
`;

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

describe('LivenessMonitor in worker_threads', () => {
  it('a monitor in a worker detects a reset on its own loop, and the main monitor is unaffected', async () => {
    const main = new LivenessMonitor();
    const { local, remote } = await pausedPair();
    main.add(local);
    const server = (await import('node:net')).createServer({ pauseOnConnect: true }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted = once(server, 'connection');
    const worker = new Worker(workerSource, { eval: true, workerData: { port: (server.address() as { port: number }).port } });
    const messages: unknown[] = [];
    worker.on('message', (m) => messages.push(m));
    const [peer] = (await accepted) as [import('node:net').Socket];
    while (messages.length === 0) await new Promise((r) => setTimeout(r, 5));
    peer.resetAndDestroy();
    const [death] = await once(worker, 'message');
    assert.deepEqual(death, { reason: 'reset', code: 'ECONNRESET' });
    await worker.terminate();
    server.close();
    assert.equal(main.size, 1);
    const dead = once(main, 'dead');
    remote.end();
    assert.equal((await dead)[1], 'peer-closed');
    main.close();
  });

  it('terminating workers mid-use, 100 times, releases their monitors; the main thread\'s monitor carries on', async function () {
    this.timeout(60_000);
    const net = await import('node:net');
    const server = net.createServer({ pauseOnConnect: true }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const accepted: import('node:net').Socket[] = [];
    server.on('connection', (s) => accepted.push(s));
    const port = (server.address() as { port: number }).port;
    const main = new LivenessMonitor();
    const watched = await pausedPair();
    main.add(watched.local);
    const before = openFds();
    for (let i = 0; i < 100; i++) {
      const worker = new Worker(workerSource, { eval: true, workerData: { port } });
      await once(worker, 'message'); // connected, monitor watching, heartbeats running
      await worker.terminate();
    }
    for (const s of accepted) s.destroy();
    server.close();
    await new Promise((r) => setTimeout(r, 100));
    const after = openFds();
    assert.ok(after <= before + 2, `open fds ${before} -> ${after}`);
    assert.equal(main.size, 1);
    const dead = once(main, 'dead');
    watched.remote.end();
    assert.equal((await dead)[1], 'peer-closed');
    main.close();
  });
});
