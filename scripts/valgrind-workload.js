// The workload scripts/valgrind.sh runs under memcheck: every native entry point over real
// loopback sockets, and every way a poller can end (closed by JS, collected by GC without being
// closed, still open at exit, torn down with a terminated worker). Runs the TypeScript API
// through tsx, so it checks what the tests check. Small on purpose: valgrind runs node ~30x slower.
'use strict';
const path = require('node:path');
const net = require('node:net');
const { once } = require('node:events');
const { Worker } = require('node:worker_threads');

const root = path.join(__dirname, '..');
const tsx = require.resolve('tsx/cjs/api', { paths: [root] });
require(tsx).register();
const core = require(path.join(root, 'src', 'index.ts'));
const native = require('node-gyp-build')(root);

const ROUNDS = Number(process.argv[2] ?? 20);

async function connection(server) {
  const accepted = once(server, 'connection');
  const client = net.connect(server.address().port, '127.0.0.1');
  await once(client, 'connect');
  const [peer] = await accepted;
  return { client, peer };
}

async function main() {
  const server = net.createServer({ pauseOnConnect: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = new Set();
  server.on('connection', (s) => { accepted.add(s); s.on('close', () => accepted.delete(s)); });
  core.setKeepAlive(server, { idle: 2000, interval: 1000, count: 3, userTimeout: 5000 });

  for (let round = 0; round < ROUNDS; round++) {
    const { client, peer } = await connection(server);
    core.setKeepAlive(client, { idle: 1000 + round * 1000, interval: 1000, count: 5, userTimeout: 3000 });
    core.getKeepAlive(client);
    core.getKeepAlive(peer);
    core.setOption(client, core.constants.IPPROTO_TCP, core.constants.TCP_NODELAY, 1);
    core.getOption(client, core.constants.SOL_SOCKET, core.constants.SO_RCVBUF);
    core.readiness([client, peer, client, server, 0x7fffffff]);
    core.tcpInfo(client);
    core.probe(peer);
    core.peek(peer);
    core.takeSocketError(peer);

    // waitFor through the module's poller: data, a timeout, an abort, a FIN, a reset.
    const data = core.waitFor(peer, { readable: true, timeout: 5000 });
    client.write('ping');
    await data;
    await core.waitFor(peer, { writable: true, timeout: 10 });
    const ac = new AbortController();
    const aborted = core.waitFor(client, { readable: true, signal: ac.signal }).catch(() => {});
    ac.abort();
    await aborted;
    if (round % 2 === 0) {
      const fin = core.waitFor(peer, { readable: true, timeout: 5000 });
      client.end();
      await fin;
      core.probe(peer);
    } else {
      const rst = core.waitFor(peer, { readable: true, timeout: 5000 });
      client.resetAndDestroy();
      await rst;
      core.probe(peer, { takeError: true });
    }
    // Refused calls: the error paths allocate too.
    for (const bad of [() => core.getKeepAlive(0x7fffffff), () => core.tcpInfo(0x7fffffff), () => core.peek(0x7fffffff)]) {
      try { bad(); } catch { /* EBADF */ }
    }
    try { native.poll(new Int32Array(1), 5); } catch { /* TypeError */ }
    // The connection inventory: this process (peer is in CLOSE_WAIT, or ended by the reset and
    // read through its fd), and its failures after and before the fd table is read.
    native.diagSnapshot(process.pid, 1, -1, new Float64Array(1));
    native.diagSnapshot(process.pid, 0, 0, new Float64Array(1)); // setns refuses fd 0
    native.diagSnapshot(0x7ffffffe, 0, -1, new Float64Array(1)); // no such process
    peer.destroy();
    client.destroy();
  }

  // Pollers opened and ended every way.
  const { client, peer } = await connection(server);
  peer.on('error', () => {});
  const fd = peer._handle.fd;
  let delivered = 0;
  for (let i = 0; i < 10; i++) {
    const out = new Float64Array(8);
    const p = native.pollerOpen(out, () => { delivered++; });
    native.pollerCtl(p, native.eventConstants.EPOLL_CTL_ADD, fd, native.eventConstants.EPOLLOUT, i);
    native.pollerRef(p, true);
    await new Promise((r) => setImmediate(r));
    native.pollerRef(p, false);
    if (i % 3 === 0) native.pollerClose(p); // closed by JS
    // else: dropped, for the garbage collector's finalizer to close
  }
  globalThis.gc?.();
  await new Promise((r) => setTimeout(r, 50));
  globalThis.gc?.();
  native.pollerOpen(new Float64Array(4), () => {}); // still open at exit: closed by the env cleanup hook

  // A worker that uses waitFor (its own env, its own poller) and is terminated with the wait pending.
  const worker = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads');
    require(${JSON.stringify(tsx)}).register();
    const core = require(${JSON.stringify(path.join(root, 'src', 'index.ts'))});
    const net = require('node:net');
    const s = net.connect(workerData.port, '127.0.0.1');
    s.on('connect', () => { core.getKeepAlive(s); core.waitFor(s, { readable: true }); parentPort.postMessage('waiting'); });
  `, { eval: true, workerData: { port: server.address().port } });
  await once(worker, 'message');
  await worker.terminate();

  client.destroy();
  for (const s of accepted) s.destroy(); // the worker's connection too: paused, it would hold the server open
  server.close();
  await once(server, 'close');
  console.log(`workload done: ${ROUNDS} rounds, ${delivered} poller events`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
