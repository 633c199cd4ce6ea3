// `npm run demo`: five connections die in five different ways, one after another, and the
// timeline shows when the monitor noticed each death and how that compares with the worst
// case the settings allow. A clean close (FIN), a reset (RST), a frozen peer (a process stopped
// with SIGSTOP: its kernel still ACKs), a half-closed connection left in CLOSE_WAIT, and, as
// root, a peer whose network link goes down (in a pair of network namespaces).
// `npm run demo -- --help` for the settings. Writes the timeline as a chart to a file in the
// temporary directory and prints its path (`npm run demo:docs` regenerates the README's docs/demo.svg).
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const { parseArgs } = require('node:util');
const { LivenessMonitor, getKeepAlive, tcpInfo } = require('..');
const { renderSvg } = require('./demo/svg');

const PEER = path.join(__dirname, 'demo', 'peer.js');

const USAGE = `usage: npm run demo -- [options]     times in ms, or with a unit: 1500ms, 2s
  --idle <time>                keepalive: silence before the first probe       2s
  --interval <time>            keepalive: time between unanswered probes       1s
                               (the kernel counts both in whole seconds)
  --count <n>                  keepalive: lost probes before it gives up       3
  --heartbeat-interval <time>  a ping after this much silence                  1000ms
  --heartbeat-timeout <time>   dead when nothing arrives this long after it    1000ms
  --gap <time>                 pause between two faults                        500ms
  --no-netns                   skip the blackhole case (namespaces need root)
  --svg <path>                 where the chart goes              $TMPDIR/tcp-liveness-demo.svg
  --no-svg                     no chart`;

// ---- settings ----

function parseTime(text, name) {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(String(text).trim());
  if (!m) throw new Error(`--${name}: expected a time such as 1500, 1500ms or 1.5s, got "${text}"`);
  const ms = Number(m[1]) * (m[2] === 's' ? 1000 : 1);
  if (!(ms > 0)) throw new Error(`--${name}: must be more than 0`);
  return ms;
}

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      idle: { type: 'string', default: '2s' },
      interval: { type: 'string', default: '1s' },
      count: { type: 'string', default: '3' },
      'heartbeat-interval': { type: 'string', default: '1000' },
      'heartbeat-timeout': { type: 'string', default: '1000' },
      gap: { type: 'string', default: '500' },
      'no-netns': { type: 'boolean', default: false },
      // Not docs/demo.svg: a run must not rewrite a tracked file (npm run demo:docs does that).
      svg: { type: 'string', default: path.join(os.tmpdir(), 'tcp-liveness-demo.svg') },
      'no-svg': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1 || count > 127) throw new Error(`--count: expected 1..127, got "${values.count}"`);
  return {
    help: values.help,
    idle: parseTime(values.idle, 'idle'),
    interval: parseTime(values.interval, 'interval'),
    count,
    heartbeatInterval: parseTime(values['heartbeat-interval'], 'heartbeat-interval'),
    heartbeatTimeout: parseTime(values['heartbeat-timeout'], 'heartbeat-timeout'),
    gap: parseTime(values.gap, 'gap'),
    netns: !values['no-netns'],
    svg: values['no-svg'] ? null : path.resolve(values.svg),
  };
}

// ---- the clock and the printed timeline ----

// process.hrtime is CLOCK_MONOTONIC, the same clock in every process: the peers' times compare.
const T0 = process.hrtime.bigint();
const now = () => Number(process.hrtime.bigint() - T0) / 1e6;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function duration(ms) {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${Number((ms / 1000).toFixed(2))} s`;
}
const seconds = (ms) => `${(ms / 1000).toFixed(3)} s`;
const signed = (ms) => (ms < 0 ? `-${duration(-ms)}` : `+${duration(ms)}`);

function say(c, text, at = now()) {
  const lane = c ? c.key : '';
  console.log(`${seconds(at).padStart(9)}  ${lane.padEnd(11)} ${text}`);
}

// ---- the five connections ----

const CASES = [
  {
    key: 'fin', title: 'clean close', short: 'FIN',
    fault: 'the peer closes its end (FIN)',
  },
  {
    key: 'rst', title: 'reset', short: 'RST',
    fault: 'the peer resets the connection (RST)',
  },
  {
    key: 'frozen', title: 'frozen peer', short: 'SIGSTOP',
    fault: 'the peer process is stopped (SIGSTOP); its kernel still ACKs',
  },
  {
    key: 'close-wait', title: 'left in CLOSE_WAIT', short: 'half-close',
    fault: 'the peer half-closes (FIN, then keeps reading); this app has paused the stream',
    peerArgs: ['half-open'],
  },
  {
    key: 'blackhole', title: 'blackholed peer', short: 'link down',
    fault: "the peer's link goes down: no FIN, no RST, no ICMP, just silence",
  },
].map((c) => ({
  ...c,
  peerArgs: c.peerArgs ?? [],
  skipped: null, // why it did not run
  socket: null,
  peer: null, // the peer's child process
  peerPid: null,
  connectedAt: null,
  injectedAt: null,
  found: null, // { at, reason, code }: the monitor's 'dead' event
  bound: 0,
  boundText: '',
  pings: [], // when the monitor sent a heartbeat
  probes: [], // keepalive probes seen in TCP_INFO: { at, answered }
  notes: [],
  closedAt: null,
  address: '',
}));

const byKey = Object.fromEntries(CASES.map((c) => [c.key, c]));
const bySocket = new Map();

// ---- peer processes and the test network, always cleaned up ----

const children = new Set();
let network = null; // the blackhole case's two network namespaces (tcp-liveness/testing)

function cleanup() {
  for (const child of children) {
    try {
      process.kill(child.pid, 'SIGCONT'); // a stopped process would hold its signals
    } catch {}
    child.kill('SIGKILL');
  }
  children.clear();
  // The test network removes itself on exit and on these signals too: its processes, the
  // sockets left in its kernels, the namespaces.
}
process.on('exit', cleanup);
for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]]) {
  process.once(signal, () => {
    console.log(`\n${signal}: stopping the peers and removing the namespaces`);
    cleanup();
    process.exit(128 + number);
  });
}

function start(command, args) {
  const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  child.on('error', () => {}); // a failed spawn shows as the message that never comes
  return child;
}

/**
 * The network-namespace harness, or why it cannot be used here. It makes two hosts joined by a
 * veth pair, with addresses that exist only between them; this process cannot enter a
 * namespace, so an agent in each host makes the sockets there and hands them over.
 */
function testing() {
  let harness = null;
  // The package's own export; the build output while the export is not there yet.
  for (const id of ['tcp-liveness/testing', '../dist/testing']) {
    try {
      harness = require(id);
      break;
    } catch (err) {
      if (err.code !== 'MODULE_NOT_FOUND' && err.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw err;
    }
  }
  if (!harness) return { reason: 'the network-namespace harness (tcp-liveness/testing) is not built' };
  const reason = harness.unsupportedReason();
  return reason ? { reason } : { harness };
}

/** The first message from a child with this `event`. */
function message(child, event, timeout = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no "${event}" from the peer within ${timeout} ms`)), timeout);
    const onMessage = (m) => m.event === event && done(null, m);
    const onExit = (code, signal) => done(new Error(`the peer exited (${signal ?? code}) before "${event}"`));
    const onError = (err) => done(err);
    function done(err, value) {
      clearTimeout(timer);
      child.off('message', onMessage).off('exit', onExit).off('error', onError);
      if (err) reject(err);
      else resolve(value);
    }
    child.on('message', onMessage).on('exit', onExit).on('error', onError);
  });
}

// ---- detection ----

function found(c, reason, code) {
  if (c.found) return;
  c.found = { at: now(), reason, code: code ?? null };
  if (c.resolveFound) c.resolveFound();
}

/** A connection is found when the monitor reports it dead; Node's own events are only noted. */
function watch(c, socket) {
  c.socket = socket;
  bySocket.set(socket, c);
  c.address = `${socket.localAddress}:${socket.localPort} → ${socket.remoteAddress}:${socket.remotePort}`;
  c.foundPromise = new Promise((resolve) => { c.resolveFound = resolve; });
  // An application that reads its sockets gets the error on its own read too: it must listen.
  socket.on('error', (err) => { c.nodeError = err.code; });
  socket.on('close', () => { c.closedAt = now(); });
}

// ---- setting up ----

async function connectLoopback(c, port, accepted) {
  c.peer = start(process.execPath, [PEER, '127.0.0.1', String(port), ...c.peerArgs]);
  c.peerPid = c.peer.pid;
  const { localPort } = await message(c.peer, 'connected');
  const socket = await accepted(localPort);
  watch(c, socket);
  c.connectedAt = now();
  if (c.key === 'close-wait') {
    // An application that stopped reading (backpressure that never drains): Node never sees
    // the FIN through this stream, so it never emits 'end' and never closes its side.
    socket.pause();
  } else {
    socket.on('data', () => {}); // an application that reads
  }
  say(c, `connected  ${c.address}  (peer pid ${c.peerPid})`);
}

async function connectBlackhole(c, monitor, harness) {
  network = await harness.createTestNetwork({ prefix: 'tlvdemo' });
  // Host b's agent is the peer (it reads and drops); this process holds host a's end.
  const peer = await network.b.serve({ behavior: 'sink' });
  const socket = await network.a.connect(peer.port);
  c.peerPid = network.b.agentPid;
  watch(c, socket);
  c.connectedAt = now();
  socket.on('data', () => {});
  // Heartbeats off: with data in flight the kernel retransmits instead of probing, and this
  // connection is here to show keepalive on its own.
  monitor.add(socket, { heartbeat: false });
  const ka = getKeepAlive(socket);
  c.bound = ka.idle + ka.interval * ka.count;
  c.boundText = `keepalive ${duration(ka.idle)} + ${ka.count} × ${duration(ka.interval)}`;
  say(c, `connected  ${c.address}  (namespaces ${network.a.name} → ${network.b.name}, peer pid ${c.peerPid})`);
  sampleProbes(c);
}

/**
 * Keepalive probes never reach JS; TCP_INFO shows them. An answered probe moves lastAckRecv
 * (nothing else flows on this connection), an unanswered one raises `probes` and stays unanswered.
 */
function sampleProbes(c) {
  const { count } = getKeepAlive(c.socket);
  let lastAckAt = -Infinity;
  let probes = 0;
  let sent = null; // a probe seen going out, not yet known to be lost
  const timer = setInterval(() => {
    let info;
    try {
      info = tcpInfo(c.socket);
    } catch {
      return clearInterval(timer); // closed
    }
    const t = now();
    const ackAt = t - info.lastAckRecv;
    // TCP_INFO counts in jiffies: only a clear jump is a new ACK.
    if (ackAt > lastAckAt + 50) {
      if (lastAckAt > -Infinity) {
        c.probes.push({ at: ackAt, answered: true });
        say(c, 'keepalive probe answered', ackAt);
      }
      lastAckAt = ackAt;
      sent = null;
    }
    // The round trip here is well under a millisecond: 50 ms without an ACK is a lost probe.
    if (sent && t - sent.at >= 50) {
      c.probes.push({ at: sent.at, answered: false });
      say(c, `keepalive probe ${sent.n} of ${count} unanswered (last ACK ${duration(sent.silence)} before it)`, sent.at);
      sent = null;
    }
    if (info.probes > probes) sent = { n: info.probes, at: t, silence: info.lastAckRecv };
    probes = info.probes;
  }, 10);
  timer.unref();
}

// ---- the faults ----

/** Tells the peer to close or reset; the fault happened when the peer says it did. */
async function order(c, cmd) {
  const done = message(c.peer, 'done', 2000);
  const sent = now();
  c.injectedAt = sent;
  c.peer.send({ cmd });
  const { at } = await done;
  c.injectedAt = Math.min(Math.max(Number(BigInt(at) - T0) / 1e6, sent), now());
}

async function inject(c) {
  switch (c.key) {
    case 'fin':
    case 'close-wait':
      await order(c, 'end');
      break;
    case 'rst':
      await order(c, 'reset');
      break;
    case 'frozen':
      c.injectedAt = now();
      process.kill(c.peer.pid, 'SIGSTOP');
      break;
    case 'blackhole':
      c.injectedAt = now();
      await network.b.blackhole(); // its end of the cable goes down
      break;
  }
  say(c, `FAULT  ${c.fault}`, c.injectedAt);
}

/**
 * How far past its bound a death may be found and still count. Timers fire late, a little (5%, at
 * least 100 ms); and the monitor's timers run on this process's event loop, so when the machine
 * holds the loop up (another process on the core, a page-cache stall), every detection is late by
 * that much. The stall is measured, not guessed: the longest a 10 ms timer was held past its time
 * while the case ran.
 */
function tolerance(c) {
  return Math.max(100, c.bound * 0.05) + (c.stall ?? 0);
}

const LOOP_RESOLUTION = 10;
const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION });
loopDelay.enable();
/** The longest the event loop was held past a timer since the last reset, in ms. */
const stalled = () => Math.max(0, loopDelay.max / 1e6 - LOOP_RESOLUTION);

async function runCase(c) {
  const freed = c.key === 'close-wait' ? message(c.peer, 'end', c.bound + 5000).catch(() => null) : null;
  await inject(c);
  loopDelay.reset();
  const deadline = c.injectedAt + c.bound + tolerance(c) + 1000;
  await Promise.race([c.foundPromise, sleep(Math.max(0, deadline - now()))]);
  c.stall = stalled();
  if (c.stall >= 50) c.notes.push(`this process's event loop was held up to ${duration(c.stall)} meanwhile (added to the tolerance)`);
  if (!c.found) {
    say(c, `MISSED  not found within ${duration(now() - c.injectedAt)} (bound ${duration(c.bound)})`);
    return;
  }
  const { at, reason, code } = c.found;
  const after = at - c.injectedAt;
  const lost = c.probes.filter((p) => !p.answered).length;
  if (lost > 0) c.chartNote = `${lost} keepalive probe${lost > 1 ? 's' : ''} unanswered`;
  say(c, `FOUND  by the monitor after ${duration(after)}: ${reason}${code ? ` ${code}` : ''}; ` +
    `bound ${duration(c.bound)} (${c.boundText}), margin ${signed(c.bound - after)}`, at);
  for (const note of c.notes) say(c, `       ${note}`, at);
  if (c.nodeError) say(c, `       the application's own read met ${c.nodeError} as well (its 'error' listener)`, at);
  if (c.key === 'frozen') {
    // Thawed and ended at once: a stopped process must never outlive the demo.
    process.kill(c.peer.pid, 'SIGCONT');
    c.peer.kill('SIGKILL');
  }
  if (freed) {
    const end = await Promise.race([freed, sleep(1000).then(() => null)]);
    if (end) {
      c.chartNote = 'CLOSE_WAIT freed';
      say(c, `       freed: the peer received this side's FIN ${duration(now() - at)} after`, now());
    } else {
      say(c, "       the peer has not received this side's FIN: the socket may still be in CLOSE_WAIT");
    }
  }
}

// ---- main ----

async function main() {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`${err.message}\n${USAGE}`);
    process.exit(2);
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }

  const monitor = new LivenessMonitor({
    keepAlive: { idle: options.idle, interval: options.interval, count: options.count },
    heartbeat: {
      interval: options.heartbeatInterval,
      timeout: options.heartbeatTimeout,
      send(socket) {
        const c = bySocket.get(socket);
        const at = now();
        if (c) c.pings.push(at);
        socket.write('ping\n');
        if (c && c.key === 'frozen' && c.injectedAt !== null) {
          // A moment later (a delayed ACK takes up to 40 ms): did the stopped peer's kernel ACK it?
          setTimeout(() => {
            if (socket.destroyed) return;
            const info = tcpInfo(socket);
            const ackedAfter = now() - info.lastAckRecv - at;
            say(c, `heartbeat sent; ${info.unacked === 0 && ackedAfter > -5
              ? `the stopped peer's kernel ACKed it (TCP_INFO: ACK ${duration(Math.max(0, ackedAfter))} later, 0 unacked)`
              : `not ACKed yet (${info.unacked} unacked)`}, but no answer comes`, at);
          }, Math.min(200, options.heartbeatTimeout / 2)).unref();
        }
      },
    },
  });
  monitor.on('dead', (socket, reason, error) => {
    const c = bySocket.get(socket);
    if (!c) return;
    // Still open here: the monitor destroys it once the listeners have run.
    try {
      const info = tcpInfo(socket);
      if (c.key === 'close-wait' || c.key === 'fin') c.notes.push(`TCP state when found: ${info.state}`);
      if (c.key === 'frozen') {
        if (info.lastAckRecv < info.lastDataRecv) c.chartNote = 'its kernel still ACKed';
        c.notes.push(`last data from the peer ${duration(info.lastDataRecv)} ago, last ACK ${duration(info.lastAckRecv)} ` +
          'ago: keepalive probes would have been ACKed too');
      }
    } catch {}
    found(c, reason, error && error.code);
  });

  // A server application that reads its connections and never ends its side on its own.
  const accepted = new Map();
  const waiting = new Map();
  const server = net.createServer((socket) => {
    socket.on('error', () => {}); // reported through the timeline (watch)
    const w = waiting.get(socket.remotePort);
    if (w) w(socket);
    else accepted.set(socket.remotePort, socket);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  monitor.add(server); // tunes the listener once; every accepted connection is watched
  const ka = getKeepAlive(server);
  const acceptedFrom = (port) => accepted.has(port) ? Promise.resolve(accepted.get(port))
    : new Promise((resolve) => waiting.set(port, resolve));

  const heartbeatBound = options.heartbeatInterval + options.heartbeatTimeout;
  for (const c of CASES) {
    if (c.key === 'blackhole') continue;
    c.bound = heartbeatBound;
    c.boundText = `heartbeat ${duration(options.heartbeatInterval)} + ${duration(options.heartbeatTimeout)}`;
  }
  const blackhole = byKey.blackhole;
  const { harness, reason } = options.netns ? testing() : { reason: 'turned off with --no-netns' };
  blackhole.skipped = reason ?? null;

  console.log('tcp-liveness demo: five connections die one by one; when is each death noticed, and by what?');
  console.log(`keepalive: idle ${duration(ka.idle)}, interval ${duration(ka.interval)}, count ${ka.count}` +
    ` (dead after ${duration(ka.idle + ka.interval * ka.count)} of silence) · heartbeat: a ping after` +
    ` ${duration(options.heartbeatInterval)} of silence, dead ${duration(options.heartbeatTimeout)} later`);
  console.log('bound: the worst case these settings allow; a death found up to 5% (at least 100 ms) ' +
    'past it still counts, for timer granularity, plus any time the machine held this process up\n');
  console.log(`${'time'.padStart(9)}  ${'connection'.padEnd(11)} event`);

  const setups = CASES.filter((c) => c.key !== 'blackhole').map((c) => connectLoopback(c, server.address().port, acceptedFrom));
  if (!blackhole.skipped) {
    setups.push(connectBlackhole(blackhole, monitor, harness).catch(async (err) => {
      blackhole.skipped = err.message;
      if (blackhole.socket) blackhole.socket.destroy();
      if (network) await network.close().catch(() => {});
    }));
  }
  await Promise.all(setups);
  if (blackhole.skipped) say(blackhole, `SKIPPED  the blackhole case: ${blackhole.skipped}`);

  // Let heartbeats (and, on the blackhole connection, a keepalive probe) be seen working first.
  await sleep(Math.max(options.heartbeatInterval * 1.5, 1000));

  const run = CASES.filter((c) => !c.skipped);
  for (const c of run) {
    await runCase(c);
    await sleep(options.gap);
  }
  const end = now();

  // ---- summary ----
  const rows = run.map((c) => {
    const after = c.found ? c.found.at - c.injectedAt : null;
    const ok = after !== null && after >= 0 && after <= c.bound + tolerance(c);
    return { c, after, ok };
  });
  console.log('\nsummary');
  const header = ['connection', 'fault', 'reason', 'code', 'after', 'bound', 'margin', ''];
  const table = rows.map(({ c, after, ok }) => [
    c.key, c.short, c.found ? c.found.reason : 'MISSED', c.found?.code ?? '-',
    after === null ? '-' : duration(after), duration(c.bound), after === null ? '-' : signed(c.bound - after),
    ok ? 'ok' : after === null ? 'MISSED' : after < 0 ? 'EARLY' : 'LATE',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
  for (const r of [header, ...table]) console.log(`  ${r.map((x, i) => x.padEnd(widths[i])).join('  ').trimEnd()}`);
  const good = rows.filter((r) => r.ok).length;
  console.log(`${good} of ${rows.length} dead connections found within their bounds in ${duration(end)}` +
    `${blackhole.skipped ? ' (blackhole skipped)' : ''}.`);

  if (options.svg) {
    const svg = renderSvg({
      cases: CASES, end,
      settings: { ka, heartbeatInterval: options.heartbeatInterval, heartbeatTimeout: options.heartbeatTimeout },
    });
    fs.mkdirSync(path.dirname(options.svg), { recursive: true });
    fs.writeFileSync(options.svg, svg);
    const shown = path.relative(process.cwd(), options.svg);
    console.log(`chart: ${shown.startsWith('..') ? options.svg : shown} (open it in a browser)`);
  }

  monitor.close();
  server.close();
  for (const c of CASES) if (c.socket) c.socket.destroy();
  cleanup();
  if (network) await network.close();
  return good === rows.length ? 0 : 1;
}

main().then(
  (code) => {
    cleanup();
    process.exit(code);
  },
  (err) => {
    console.error(err);
    cleanup();
    process.exit(1);
  },
);
