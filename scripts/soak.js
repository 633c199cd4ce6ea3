// Churn soak: monitor add/delete cycles, then connections opened and closed (FIN, RST, local
// destroy) with a monitor attached to the server and the clients. Heap, RSS and the open-fd
// count must come back to their baseline. `node --expose-gc scripts/soak.js [--quick]`;
// prints one JSON line and exits non-zero when a bound is broken.
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const { once } = require('node:events');
const { LivenessMonitor } = require('..');

const quick = process.argv.includes('--quick');
const CYCLES = quick ? 20_000 : 200_000; // add + delete on live sockets
const CONNECTIONS = quick ? 2_000 : 20_000; // opened and closed with the monitor attached
const BATCH = 500;
// Tolerances, stated: what V8 and glibc may keep after a churn of this size without it being a leak.
const HEAP_SLACK = 2 * 1024 * 1024;
const RSS_SLACK = 32 * 1024 * 1024;
const FD_SLACK = 2;

if (typeof global.gc !== 'function') {
  console.error('run with node --expose-gc');
  process.exit(2);
}

const fds = () => fs.readdirSync('/proc/self/fd').length;
function measure() {
  global.gc();
  global.gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss, fds: fds() };
}

async function connectMany(port, n) {
  return Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  })));
}

async function main() {
  const server = net.createServer({ pauseOnConnect: true });
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
  await once(server, 'listening');
  const port = server.address().port;
  // Accepted ends by the client's port: Node may accept a moment after the client has connected.
  const accepted = new Map();
  server.on('connection', (s) => accepted.set(s.remotePort, s.on('error', () => {})));
  async function peersOf(clients) {
    while (!clients.every((c) => accepted.has(c.localPort))) await new Promise((r) => setImmediate(r));
    return clients.map((c) => {
      const p = accepted.get(c.localPort);
      accepted.delete(c.localPort);
      return p;
    });
  }
  const monitor = new LivenessMonitor({
    keepAlive: { idle: 30_000, interval: 5_000, count: 3 },
    heartbeat: { interval: 60_000, timeout: 5_000, send: () => {} },
  });
  // add + delete on live sockets, `count` times in all.
  async function cycles(count) {
    const sockets = await connectMany(port, 1000);
    for (let done = 0; done < count; done += sockets.length) {
      for (const s of sockets) monitor.add(s);
      for (const s of sockets) monitor.delete(s);
    }
    for (const s of await peersOf(sockets)) s.destroy();
    for (const s of sockets) s.destroy();
  }

  // Connections that die every way, with the monitor on the server and the clients.
  async function connections(count) {
    monitor.add(server);
    for (let opened = 0; opened < count; opened += BATCH) {
      const clients = await connectMany(port, BATCH);
      for (const c of clients) {
        c.on('error', () => {});
        monitor.add(c);
      }
      const peers = await peersOf(clients); // watched through the server, never read by Node
      // Not events.once: it rejects on 'error', and a reset socket that someone listens to is
      // destroyed with its ECONNRESET, as Node's own read would have.
      const closed = [...clients, ...peers].map((s) => new Promise((resolve) => s.once('close', resolve)));
      clients.forEach((c, i) => {
        if (i % 3 === 0) c.end(); // FIN: the monitor reports the peer-closed accepted socket
        else if (i % 3 === 1) c.resetAndDestroy(); // RST: reset
        else peers[i].destroy(); // closed locally: just forgotten
      });
      await Promise.all(closed);
    }
    monitor.delete(server);
  }

  const deaths = { 'peer-closed': 0, reset: 0 };
  monitor.on('dead', (socket, reason) => { deaths[reason] = (deaths[reason] || 0) + 1; });

  // Warm up every path with a tenth of the work, so the baseline holds code, pools and the
  // heap's working size, and the growth after it is what the churn itself keeps.
  await cycles(CYCLES / 10);
  await connections(CONNECTIONS / 10);
  await new Promise((r) => setTimeout(r, 100));
  const baseline = measure();
  deaths['peer-closed'] = deaths.reset = 0;

  const t0 = performance.now();
  await cycles(CYCLES);
  const cyclesMs = performance.now() - t0;
  const t1 = performance.now();
  await connections(CONNECTIONS);
  const connectionsMs = performance.now() - t1;
  await new Promise((r) => setTimeout(r, 200));
  const after = measure();
  const stats = monitor.stats();
  monitor.close();
  server.close();

  const result = {
    cycles: CYCLES,
    connections: CONNECTIONS,
    usPerAddDelete: +(cyclesMs * 1000 / CYCLES).toFixed(2),
    connectionsPerSecond: Math.round(CONNECTIONS / (connectionsMs / 1000)),
    deaths,
    watched: stats.watched,
    added: stats.added,
    removed: stats.removed,
    heapGrowth: after.heapUsed - baseline.heapUsed,
    rssGrowth: after.rss - baseline.rss,
    fdGrowth: after.fds - baseline.fds,
    tolerance: { heap: HEAP_SLACK, rss: RSS_SLACK, fds: FD_SLACK },
  };
  const problems = [];
  if (result.watched !== 0) problems.push(`${result.watched} sockets still watched`);
  if (result.added !== result.removed) problems.push(`added ${result.added} but removed ${result.removed}`);
  if (result.heapGrowth > HEAP_SLACK) problems.push(`heap grew ${result.heapGrowth} bytes`);
  if (result.rssGrowth > RSS_SLACK) problems.push(`RSS grew ${result.rssGrowth} bytes`);
  if (result.fdGrowth > FD_SLACK) problems.push(`${result.fdGrowth} more open fds`);
  const third = CONNECTIONS / 3;
  if (deaths['peer-closed'] < Math.floor(third) || deaths.reset < Math.floor(third)) {
    problems.push(`too few deaths reported: ${JSON.stringify(deaths)}`);
  }
  result.problems = problems;
  console.log(JSON.stringify(result));
  process.exit(problems.length ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
