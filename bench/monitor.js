// The LivenessMonitor rows of `npm run bench`, measured in a process of their own:
//
//   node --expose-gc bench/monitor.js FLOOR [--quick]
//
// bench/index.js runs it after the call rows (their 10k sockets closed by then) and puts its
// numbers in the same table and JSON file. A process of its own because 15,000 monitored
// sockets take most of the 20,000 fds a process may have here, and heap deltas need
// --expose-gc. The monitored sockets are accepted with pauseOnConnect, so Node never reads them
// (what the kernel holds, a FIN, an RST, stays there for the monitor to find); their far ends
// live in `FLOOR peer` (bench/floor.c), which also injects the faults and timestamps them on the
// clock process.hrtime.bigint() reads (CLOCK_MONOTONIC, system-wide).
//
// Sends the measurements to the parent over IPC, or prints them as JSON when run alone.
'use strict';
const { spawn } = require('node:child_process');
const { once } = require('node:events');
const net = require('node:net');
const readline = require('node:readline');
const { setTimeout: sleep } = require('node:timers/promises');
const { LivenessMonitor } = require('..');
const { quantile, median } = require('./stats');

const [exe] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const quick = process.argv.includes('--quick');
if (!exe || typeof global.gc !== 'function') {
  console.error('usage: node --expose-gc bench/monitor.js FLOOR [--quick]');
  process.exit(2);
}

const SOCKETS = quick ? 200 : 15_000; // idle CPU and memory
const ADD_DELETE = quick ? 200 : 1000; // sockets added, then deleted, per timed batch
const ADD_DELETE_ROUNDS = quick ? 2 : 21; // the first is a warm-up
const ADD_DELETE_PER_ROUND = quick ? 2 : 5;
const WINDOW = quick ? 500 : 5000; // ms of idle time per CPU sample
const IDLE_ROUNDS = quick ? 1 : 2; // each round: none, bare, heartbeat, then the reverse order next round
const FAULTS = quick ? 50 : 1000; // of each kind, on distinct sockets
const FAULT_GAP = 1; // ms between one fault's 'dead' event and the next fault
const DETECT_LIMIT = 2000; // ms: a fault not reported by then is counted as missed

// The monitors measured. Keepalive and heartbeats as a server might set them, long enough that
// nothing is due while the bench runs: a kernel probing 15,000 sockets every few seconds, or
// heartbeats written to peers that never read, would be work, not the idle cost measured here.
const monitorConfigs = {
  bare: {},
  realistic: {
    keepAlive: { idle: 120_000, interval: 10_000, count: 3, userTimeout: 150_000 },
    heartbeat: { interval: 60_000, timeout: 10_000, send: (socket) => socket.write('ping\n') },
  },
};

const log = (msg) => process.stderr.write(`bench/monitor.js: ${msg}\n`);


async function main() {
  const sockets = [];
  const portOf = new Map(); // monitored socket → its far end's local port (remotePort is gone once reset)
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    sockets.push(socket);
    portOf.set(socket, socket.remotePort);
  });
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
  await once(server, 'listening');
  const peer = spawn(exe, ['peer'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: peer.stdout })[Symbol.asyncIterator]();
  const ask = async (command) => {
    peer.stdin.write(`${command}\n`);
    const { value, done } = await lines.next();
    if (done) throw new Error(`bench/floor.c peer stopped at "${command}"`);
    return value;
  };
  try {
    // In waves the listen backlog holds: a full accept queue drops SYNs, and a dropped SYN costs a 1 s retry.
    const port = server.address().port;
    while (sockets.length < SOCKETS) {
      const total = sockets.length + Math.min(1000, SOCKETS - sockets.length);
      await ask(`connect ${port} ${total - sockets.length}`);
      while (sockets.length < total) await once(server, 'connection');
    }
    log(`${sockets.length} sockets connected`);
    const results = { sockets: SOCKETS, windowMs: WINDOW, faults: FAULTS, addDeleteBatch: ADD_DELETE };
    results.memory = measureMemory(sockets); // first: the heap has not yet grown and shrunk around monitors
    results.addDelete = await measureAddDelete(sockets.slice(0, ADD_DELETE));
    results.idle = await measureIdle(sockets);
    results.latency = await measureLatency(sockets, portOf, ask);
    return results;
  } finally {
    for (const s of sockets) s.destroy();
    server.close();
    peer.stdin.end();
  }
}

// Bytes per monitored socket: heap (after full GCs) and RSS, before and after adding every socket.
function measureMemory(sockets) {
  const settle = () => {
    global.gc();
    global.gc();
    return process.memoryUsage();
  };
  const perSocket = (config) => {
    // Once over a few sockets first: what the first use costs once (compiled code, the monitor's
    // own objects, the maps' first tables) is not a cost per socket.
    const warm = new LivenessMonitor(config);
    for (const s of sockets.slice(0, 100)) warm.add(s);
    warm.close();
    const before = settle();
    const monitor = new LivenessMonitor(config);
    for (const s of sockets) monitor.add(s);
    const after = settle();
    const size = monitor.size;
    monitor.close();
    if (size !== sockets.length) throw new Error(`memory: ${size} of ${sockets.length} sockets watched`);
    return {
      heap: (after.heapUsed - before.heapUsed) / sockets.length,
      rss: (after.rss - before.rss) / sockets.length,
      external: (after.external + after.arrayBuffers - before.external - before.arrayBuffers) / sockets.length,
    };
  };
  // The realistic configuration first: it pays for what any first use of the library does once
  // per socket (the fd remembered on Node's handle), which the bare monitor after it finds done.
  const realistic = perSocket(monitorConfigs.realistic);
  const bare = perSocket(monitorConfigs.bare);
  return { realistic, bare, kernelEpitem: epitemSize() };
}

// The kernel's memory per registration in an epoll set (struct epitem), from /proc/slabinfo; not in RSS.
function epitemSize() {
  try {
    const line = require('node:fs').readFileSync('/proc/slabinfo', 'utf8').split('\n').find((l) => l.startsWith('eventpoll_epi '));
    return line ? Number(line.split(/\s+/)[3]) : null;
  } catch {
    return null;
  }
}

// ns per socket of add() then delete(), in batches of ADD_DELETE sockets (all added, then all
// deleted), the two monitors and the floor interleaved, order swapped each round, so a drift in
// machine speed hits all alike. The floor: the same sockets' fds in `FLOOR run`, which makes the
// syscalls add() + delete() make (epoll_ctl ADD and DEL; with keepAlive, five setsockopt too).
async function measureAddDelete(list) {
  const monitors = { bare: new LivenessMonitor(monitorConfigs.bare), realistic: new LivenessMonitor(monitorConfigs.realistic) };
  const floor = spawn(exe, ['run'], { stdio: ['pipe', 'pipe', 'inherit', list[0]._handle.fd, ...list.map((s) => s._handle.fd)] });
  const floorLines = readline.createInterface({ input: floor.stdout })[Symbol.asyncIterator]();
  const runFloor = async (op) => {
    floor.stdin.write(`${op}-${list.length} 1 ${ADD_DELETE_PER_ROUND}\n`);
    const { value, done } = await floorLines.next();
    if (done) throw new Error(`bench/floor.c run stopped at ${op}`);
    return value.split(' ').map((ns) => Number(ns) / list.length);
  };
  const runJs = (monitor) => {
    const samples = [];
    for (let b = 0; b < ADD_DELETE_PER_ROUND; b++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < list.length; i++) monitor.add(list[i]);
      for (let i = 0; i < list.length; i++) monitor.delete(list[i]);
      samples.push(Number(process.hrtime.bigint() - t0) / list.length);
    }
    return samples;
  };
  const run = {
    bare: () => runJs(monitors.bare),
    realistic: () => runJs(monitors.realistic),
    floorEpoll: () => runFloor('epoll'),
    floorKeepAlive: () => runFloor('keepalive'),
  };
  const samples = Object.fromEntries(Object.keys(run).map((k) => [k, []]));
  try {
    for (let round = 0; round < ADD_DELETE_ROUNDS; round++) {
      const order = Object.keys(run);
      if (round % 2) order.reverse();
      for (const name of order) {
        const ns = await run[name]();
        if (round > 0) samples[name].push(...ns);
      }
    }
  } finally {
    floor.stdin.end();
  }
  // The floor holds these sockets' fds until it exits: a fault injected later must find them closed by Node alone.
  if (floor.exitCode === null) await once(floor, 'exit');
  for (const m of Object.values(monitors)) {
    if (m.size !== 0) throw new Error('add/delete left sockets watched');
    m.close();
  }
  const summary = (s) => ({ median: median(s), quartiles: [quantile(s, 0.25), quantile(s, 0.75)], batches: s.length });
  return Object.fromEntries(Object.entries(samples).map(([k, s]) => [k, summary(s)]));
}

// Returns once the process has been quiet (under 0.3% of a core) for 100 ms, after at most 3 s:
// how long that took, ms. Adding 15,000 sockets leaves work behind on V8's threads (optimizing
// compiles of the code that just ran hot, concurrent sweeping, unmapping freed pages): the cost
// of adding, not of watching idle sockets.
async function quiet() {
  const start = performance.now();
  global.gc();
  for (let k = 0; k < 30; k++) {
    const before = process.cpuUsage();
    await sleep(100);
    const used = process.cpuUsage(before);
    if (used.user + used.system < 300) break;
  }
  return Math.round(performance.now() - start);
}

// A monitor watching every socket. A function of its own, not a loop in measureIdle: V8 starts
// optimizing a function whose loop ran hot the next time it is entered, and an async function is
// entered again at each await it resumes from, the start of a window included (seen: 15-40 ms of
// TurboFan compiling on a V8 thread inside the window).
function watchAll(sockets, config) {
  const monitor = new LivenessMonitor(config);
  for (const s of sockets) monitor.add(s);
  return monitor;
}

// CPU (user + sys, ms) the process uses over WINDOW ms with every socket idle: with no monitor,
// with a bare monitor, with keepAlive + heartbeats due only after the window. Alternated in
// mirrored order (none, bare, heartbeat, heartbeat, bare, none) so a drift hits all alike.
async function measureIdle(sockets) {
  const samples = { none: [], bare: [], realistic: [] };
  const settled = { none: [], bare: [], realistic: [] };
  for (let round = 0; round < IDLE_ROUNDS; round++) {
    const order = round % 2 ? ['realistic', 'bare', 'none'] : ['none', 'bare', 'realistic'];
    for (const name of order) {
      const monitor = name === 'none' ? null : watchAll(sockets, monitorConfigs[name]);
      settled[name].push(await quiet());
      const before = process.cpuUsage();
      await sleep(WINDOW);
      const used = process.cpuUsage(before);
      samples[name].push((used.user + used.system) / 1000);
      if (monitor) {
        if (monitor.size !== sockets.length || monitor.stats().heartbeats !== 0) throw new Error(`idle ${name}: the monitor did something`);
        monitor.close();
      }
      log(`idle ${name}: ${samples[name].at(-1).toFixed(2)} ms CPU in ${WINDOW} ms`);
    }
  }
  const summary = (name) => ({ median: median(samples[name]), samples: samples[name], settledMs: settled[name] });
  return { none: summary('none'), bare: summary('bare'), realistic: summary('realistic') };
}

// From the far end's fault (its timestamp, taken just before the syscall) to the 'dead' event:
// one fault at a time, the next only after the last was reported (and FAULT_GAP ms more), so each
// latency is one detection on an otherwise idle process, never a queue. The monitor watches every
// socket; FIN on FAULTS of them, RST on FAULTS others.
//
// The control, timed the same way between faults: from the far end's write of one byte to Node's
// own 'data' event on a socket it reads (the last one, never faulted). Nothing of ours is on that
// path, so it is what this machine's scheduling costs any wakeup right now: on a loaded machine a
// tail in both is the machine, a tail in the faults alone would be the monitor.
async function measureLatency(sockets, portOf, ask) {
  const monitor = watchAll(sockets, monitorConfigs.realistic);
  const arrivals = new Map(); // port → { at, reason }
  let waiting = null;
  const arrived = (port, reason) => {
    arrivals.set(port, { at: Number(process.hrtime.bigint()), reason });
    if (waiting && waiting.port === port) waiting.resolve();
  };
  monitor.on('dead', (socket, reason) => arrived(portOf.get(socket), reason));
  const control = sockets.at(-1);
  const controlPort = portOf.get(control);
  control.on('data', () => arrived(controlPort, 'data'));
  control.resume();
  // One request to the far end; resolves with the latency (ns) and what arrived, or null if nothing did in time.
  const inject = async (command, port) => {
    arrivals.delete(port);
    const reported = new Promise((resolve) => { waiting = { port, resolve }; });
    const [word, faultPort, at] = (await ask(`${command} ${port}`)).split(' ');
    if (word !== 'fault' || Number(faultPort) !== port) throw new Error(`bench/floor.c peer: unexpected answer to ${command} ${port}`);
    let timer;
    await Promise.race([reported, new Promise((resolve) => { timer = setTimeout(resolve, DETECT_LIMIT); })]);
    clearTimeout(timer);
    waiting = null;
    const arrival = arrivals.get(port);
    await sleep(FAULT_GAP);
    return arrival ? { ns: arrival.at - Number(at), reason: arrival.reason } : null;
  };
  const summary = (latencies, missed, reasons) => ({
    p50: latencies.length ? quantile(latencies, 0.5) : Infinity,
    p99: latencies.length && !missed ? quantile(latencies, 0.99) : Infinity,
    max: latencies.length ? Math.max(...latencies) : Infinity,
    min: latencies.length ? Math.min(...latencies) : Infinity,
    count: latencies.length,
    missed,
    reasons,
  });
  const result = {};
  const controls = [];
  let controlMissed = 0;
  try {
    let next = 0;
    for (const kind of ['fin', 'rst']) {
      const latencies = [];
      const reasons = {};
      let missed = 0;
      for (let k = 0; k < FAULTS; k++) {
        const found = await inject(kind, portOf.get(sockets[next++]));
        if (!found) missed++;
        else {
          latencies.push(found.ns);
          reasons[found.reason] = (reasons[found.reason] ?? 0) + 1;
        }
        if (k % 2 === 0) {
          const echo = await inject('ping', controlPort);
          if (echo) controls.push(echo.ns);
          else controlMissed++;
        }
      }
      result[kind] = summary(latencies, missed, reasons);
      log(`${kind}: p50 ${(result[kind].p50 / 1e3).toFixed(1)} µs, p99 ${(result[kind].p99 / 1e3).toFixed(1)} µs, ${JSON.stringify(reasons)}`);
    }
    result.control = summary(controls, controlMissed, { data: controls.length });
    log(`control (Node's own 'data'): p50 ${(result.control.p50 / 1e3).toFixed(1)} µs, p99 ${(result.control.p99 / 1e3).toFixed(1)} µs`);
  } finally {
    monitor.close();
  }
  return result;
}

main().then(
  (results) => {
    if (process.send) process.send(results, () => process.disconnect());
    else console.log(JSON.stringify(results, null, 2));
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
    process.disconnect?.();
  },
);
