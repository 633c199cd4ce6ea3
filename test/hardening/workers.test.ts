// The core API in worker_threads, with workers terminated mid-use: each environment has its
// own addon state and its own waitFor poller (an epoll fd and a libuv handle on the worker's
// loop), and a terminated worker must take all of it with it.
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { getKeepAlive, readiness, setKeepAlive, tcpInfo, waitFor } from '../../src';
import { cleanup, pausedPair, sleep } from '../helpers';

const root = path.join(__dirname, '..', '..');

// The worker loads the TypeScript core itself (through tsx), so it runs what the tests run.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
require(${JSON.stringify(require.resolve('tsx/cjs/api', { paths: [root] }))}).register();
const core = require(${JSON.stringify(path.join(root, 'src', 'index.ts'))});
const net = require('node:net');
const { once } = require('node:events');
(async () => {
  const socket = net.connect(workerData.port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  core.setKeepAlive(socket, { idle: 1000, interval: 1000, count: 2, userTimeout: 5000 });
  const keepAlive = core.getKeepAlive(socket);
  core.readiness([socket, socket]);
  core.tcpInfo(socket);
  core.probe(socket);
  // The peer never writes: this wait is pending, registered in the worker's epoll set, when
  // the worker is terminated.
  core.waitFor(socket, { readable: true });
  await core.waitFor(socket, { writable: true, timeout: 1000 });
  parentPort.postMessage({ ready: true, keepAlive });
  for (;;) {
    core.readiness(socket);
    core.getKeepAlive(socket);
    await core.waitFor(socket, { writable: true, timeout: 5 });
  }
})();
`;

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

// How each worker is ended: before it has loaded anything, as soon as it runs, while its
// first waits are registered, or at a random moment of its busy loop.
type When = 'at once' | 'online' | 'ready' | 'busy';
const WHEN: When[] = ['at once', 'online', 'ready', 'busy'];

async function runAndTerminate(port: number, when: When): Promise<{ reachedReady: boolean }> {
  const worker = new Worker(workerSource, { eval: true, workerData: { port }, stdout: true, stderr: true });
  let reachedReady = false;
  let failure: unknown;
  worker.on('error', (err) => { failure = err; });
  worker.on('message', (m: { ready?: boolean; keepAlive?: { idle: number } }) => {
    if (m.ready) {
      reachedReady = true;
      if (m.keepAlive?.idle !== 1000) failure = new Error(`worker read keepalive ${JSON.stringify(m.keepAlive)}`);
    }
  });
  const exited = once(worker, 'exit');
  if (when === 'online') await once(worker, 'online');
  if (when === 'ready' || when === 'busy') {
    await Promise.race([once(worker, 'message'), exited]);
    if (when === 'busy') await sleep(Math.random() * 15);
  }
  await worker.terminate();
  await exited;
  if (failure) throw failure;
  return { reachedReady };
}

describe('hardening: the core API in worker_threads', function () {
  afterEach(cleanup);

  it('100 workers terminated mid-use (waits pending, poller open): no crash, no fd growth, the main thread unaffected', async function () {
    this.timeout(90_000);
    const server = net.createServer({ pauseOnConnect: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;
    const accepted = new Set<net.Socket>();
    server.on('connection', (s) => {
      accepted.add(s);
      s.on('error', () => {});
      s.on('close', () => accepted.delete(s));
    });
    const dropAccepted = async () => {
      for (const s of accepted) s.destroy();
      while (accepted.size) await sleep(5);
    };

    // The main thread has its own waits open throughout.
    const main = await pausedPair();
    const mainWait = waitFor(main.local, { readable: true, timeout: 60_000 });

    // One worker first: the first worker start opens process-wide things (tsx's cache,
    // libuv's signal pipe, ...) that are not per worker and stay.
    await runAndTerminate(port, 'ready');
    await dropAccepted();
    global.gc?.();
    await sleep(50);
    const before = openFds();

    const RUNS = 100;
    const PARALLEL = 4;
    let reachedReady = 0;
    for (let i = 0; i < RUNS; i += PARALLEL) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(PARALLEL, RUNS - i) }, (_, j) => runAndTerminate(port, WHEN[(i + j) % WHEN.length])),
      );
      reachedReady += batch.filter((r) => r.reachedReady).length;
      await dropAccepted();
    }
    global.gc?.();
    await sleep(100);
    const after = openFds();
    // Tolerance 2: an fd or two can be in flight in libuv's threadpool at the moment of counting.
    assert.ok(after - before <= 2, `fds before ${before}, after ${after} (${RUNS} workers)`);
    assert.ok(reachedReady >= RUNS / 2, `only ${reachedReady} workers got as far as their pending waits`);

    // The main thread's API and its pending wait are untouched.
    setKeepAlive(main.local, { idle: 4000, count: 3 });
    assert.equal(getKeepAlive(main.local).idle, 4000);
    assert.equal(readiness(main.local).readable, false);
    assert.equal(tcpInfo(main.local).state, 'ESTABLISHED');
    main.remote.write('after the workers');
    assert.equal((await mainWait).readable, true);
    assert.equal((await waitFor(main.local, { writable: true, timeout: 1000 })).writable, true);
    server.close();
    console.log(`      (${RUNS} workers, ${reachedReady} terminated with waits pending; fds ${before} -> ${after})`);
  });
});
