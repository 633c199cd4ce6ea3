// The policy() rows of `npm run bench`, measured in a process of their own:
//
//   node bench/policy.js FLOOR [--quick]
//
// A process of its own because a policy hooks the whole process (Node's diagnostics channels,
// and on some Node lines Socket.prototype.connect): the other rows must not run under it.
//
// 1. Connections per second, through `net.connect()` and through `http.get()` with an
//    `http.Agent` (keepAlive: false, so every request is a new connection), each with no policy,
//    with a policy that matches the connection (keepalive applied, setKeepAlive guarded), and
//    with one that does not (its match reads remotePort, as a `c.remotePort === 5432` would),
//    and, as the control for what the settings themselves cost, with no policy but the same
//    five options applied by hand (`setKeepAlive(socket, …)` in each socket's 'connect').
//    The servers live in a child process (`--sink`) without any policy. `CONCURRENCY`
//    connections are in flight at a time. net.connect's connections end with an RST, which
//    leaves no TIME_WAIT behind (this machine's ephemeral ports are shared with other work);
//    the Agent closes its own, as it does for any application (loopback reuses TIME_WAIT ports:
//    net.ipv4.tcp_tw_reuse = 2 by default).
//    The four variants run back to back in each round, their order rotated every round; the
//    first round is a warm-up. Ratio = the variant's rate / no policy's rate in the same round,
//    median over the rounds.
// 2. The policy's own time per connection, on real accepted connections: what its subscriber
//    does when Node's accept path announces one on `net.server.socket` (look up the TCP handle,
//    ask match, apply the five keepalive options in one native call, install the setKeepAlive
//    guard), timed by two subscribers of the bench's own around it, less what those two cost
//    alone (the same brackets with no policy between them). The connections come from
//    `FLOOR peer`, one at a time, in batches; no policy, a matching one and a non-matching one
//    take turns, order rotated each round, with the C floor making the same five setsockopt
//    calls per socket (`FLOOR run`, op keepalive-N) on a batch of such sockets as a turn too.
//
// Sends the measurements to the parent over IPC, or prints them as JSON when run alone.
'use strict';
const { fork, spawn } = require('node:child_process');
const dc = require('node:diagnostics_channel');
const { once } = require('node:events');
const http = require('node:http');
const net = require('node:net');
const readline = require('node:readline');
const { median } = require('./stats');

if (process.argv.includes('--sink')) {
  sink();
} else {
  const [exe] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  if (!exe) {
    console.error('usage: node bench/policy.js FLOOR [--quick]');
    process.exit(2);
  }
  main(exe, process.argv.includes('--quick')).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

// The far ends: a TCP server that drops each connection as it comes, and an HTTP server.
function sink() {
  const tcp = net.createServer((s) => s.on('error', () => {}).destroy());
  const web = http.createServer((req, res) => res.end('ok'));
  web.on('connection', (s) => s.on('error', () => {}));
  let listening = 0;
  const ready = () => {
    if (++listening === 2) process.send({ tcp: tcp.address().port, http: web.address().port });
  };
  tcp.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, ready);
  web.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, ready);
  process.on('disconnect', () => process.exit(0));
}

const SETTINGS = { idle: 120_000, interval: 10_000, count: 3, userTimeout: 150_000 };


/**
 * Makes `total` connections, `concurrency` at a time, with `one()` making each: connections per
 * second of wall time, and per second of this process's CPU time (user + system), which other
 * processes on a shared machine disturb far less.
 */
async function rate(total, concurrency, one) {
  let started = 0;
  const worker = async () => {
    while (started < total) {
      started++;
      await one();
    }
  };
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { wall: total / wall, cpu: total / ((cpu.user + cpu.system) / 1e6) };
}

// `tune(socket)`, when given, is called as the socket is made (the "by hand" variant).
function netConnection(port, tune) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    tune?.(s);
    s.once('error', reject);
    s.once('connect', () => {
      s.resetAndDestroy();
      s.once('close', resolve);
    });
  });
}

function agentRequest(port, agent, tune) {
  return new Promise((resolve, reject) => {
    const req = http.get({ port, host: '127.0.0.1', agent }, (res) => {
      res.resume();
      // The Agent closes the connection itself once the response ends (keepAlive: false).
      res.socket.once('close', resolve);
    });
    if (tune) req.once('socket', tune);
    req.once('error', reject);
  });
}

async function throughput(ports, quick, policy, setKeepAlive) {
  // Many short rounds rather than a few long ones: on a shared machine a burst of other work
  // then spoils a few rounds' ratios, which the median leaves out, instead of a whole variant.
  const ROUNDS = quick ? 2 : 61; // the first is a warm-up
  const CONCURRENCY = 16;
  const kinds = {
    net: { total: quick ? 40 : 200, one: (agent, tune) => netConnection(ports.tcp, tune) },
    agent: { total: quick ? 20 : 100, one: (agent, tune) => agentRequest(ports.http, agent, tune) },
  };
  // A variant returns the policy it made, or what tunes each socket by hand.
  const variants = {
    none: () => ({}),
    matching: (port) => ({ policy: policy({ keepAlive: SETTINGS, match: (c) => c.direction === 'outbound' && c.remotePort === port }) }),
    // As a policy for another service would: reads the remote port (getpeername), then declines.
    nonMatching: () => ({ policy: policy({ keepAlive: SETTINGS, match: (c) => c.remotePort === 5432 }) }),
    // The control for "costs the syscalls it needs": no policy, the same five options applied
    // by the application's own code once each connection opens.
    byHand: () => ({ tune: (s) => s.once('connect', () => setKeepAlive(s, SETTINGS)) }),
  };
  const names = Object.keys(variants);
  const others = names.filter((n) => n !== 'none');
  const out = {};
  for (const [kind, k] of Object.entries(kinds)) {
    const port = kind === 'net' ? ports.tcp : ports.http;
    const rates = Object.fromEntries(names.map((n) => [n, []]));
    const cpuRates = Object.fromEntries(names.map((n) => [n, []]));
    const ratios = Object.fromEntries(others.map((n) => [n, []]));
    const cpuRatios = Object.fromEntries(others.map((n) => [n, []]));
    for (let round = 0; round < ROUNDS; round++) {
      const order = names.map((_, i) => names[(i + round) % names.length]);
      const inRound = {};
      for (const name of order) {
        const { policy: p, tune } = variants[name](port);
        const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
        try {
          inRound[name] = await rate(k.total, CONCURRENCY, () => k.one(agent, tune));
          if (p && p.stats().matched !== (name === 'matching' ? k.total : 0)) {
            throw new Error(`${kind} ${name}: the policy took ${p.stats().matched} of ${k.total} connections`);
          }
        } finally {
          p?.close();
          agent.destroy();
        }
      }
      if (round === 0) continue;
      for (const n of names) {
        rates[n].push(inRound[n].wall);
        cpuRates[n].push(inRound[n].cpu);
      }
      for (const v of others) {
        ratios[v].push(inRound[v].wall / inRound.none.wall);
        cpuRatios[v].push(inRound[v].cpu / inRound.none.cpu);
      }
    }
    out[kind] = {
      total: k.total, concurrency: CONCURRENCY, rounds: ROUNDS - 1,
      rate: Object.fromEntries(names.map((n) => [n, median(rates[n])])),
      ratio: Object.fromEntries(others.map((n) => [n, median(ratios[n])])),
      cpuRate: Object.fromEntries(names.map((n) => [n, median(cpuRates[n])])),
      cpuRatio: Object.fromEntries(others.map((n) => [n, median(cpuRatios[n])])),
      ratios, cpuRatios,
    };
  }
  return out;
}

async function perConnection(exe, quick, policy) {
  const ROUNDS = quick ? 2 : 12; // the first is a warm-up
  const BATCH = quick ? 50 : 200;
  const accepted = [];
  const server = net.createServer({ pauseOnConnect: true }, (s) => accepted.push(s));
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 });
  await once(server, 'listening');
  const peer = spawn(exe, ['peer'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const peerLines = readline.createInterface({ input: peer.stdout })[Symbol.asyncIterator]();
  // Brackets around the policy's subscriber: diagnostics_channel calls subscribers in the order
  // they subscribed, so `before` runs just before the policy's and `after` just after.
  let t0 = 0n;
  const spans = [];
  const before = () => (t0 = process.hrtime.bigint());
  const after = () => spans.push(Number(process.hrtime.bigint() - t0));
  const { setKeepAlive } = require('..');
  const variants = {
    none: () => null,
    // Every connection, as `policy({ keepAlive })` takes them: no match to ask.
    matched: () => policy({ keepAlive: SETTINGS }),
    // What applying the settings costs by itself: the library's setKeepAlive, from a subscriber in the same place.
    setKeepAlive: () => {
      const apply = ({ socket }) => setKeepAlive(socket, SETTINGS);
      dc.subscribe('net.server.socket', apply);
      return { close: () => dc.unsubscribe('net.server.socket', apply), stats: () => ({ matched: 0 }) };
    },
    // Declined on what the policy already knows: no syscall.
    declined: () => policy({ keepAlive: SETTINGS, match: (c) => c.direction === 'outbound' }),
    // Declined after reading remotePort, as `c.remotePort === 5432` alone would: Node's getpeername.
    declinedByPort: () => policy({ keepAlive: SETTINGS, match: (c) => c.remotePort === 5432 }),
  };
  let connected = 0;
  /** Accepts BATCH connections from the peer with `variant`'s subscriber bracketed; returns the sockets and the median span. */
  const acceptBatch = async (variant) => {
    dc.subscribe('net.server.socket', before);
    const p = variant();
    dc.subscribe('net.server.socket', after);
    spans.length = 0;
    accepted.length = 0;
    try {
      peer.stdin.write(`connect ${server.address().port} ${BATCH}\n`);
      const { value } = await peerLines.next();
      if (value !== `connected ${(connected += BATCH)}`) throw new Error(`bench/floor.c peer: ${value}`);
      while (accepted.length < BATCH) await new Promise(setImmediate);
    } finally {
      p?.close();
      dc.unsubscribe('net.server.socket', before);
      dc.unsubscribe('net.server.socket', after);
    }
    if (p && p.stats().matched !== (variant === variants.matched ? BATCH : 0)) throw new Error(`per connection: took ${p.stats().matched}`);
    return { sockets: accepted.splice(0), span: median(spans) };
  };
  // The floor: the same five setsockopt per socket from C, on a batch accepted as the others
  // (no policy), asked for one pass per round between the variants.
  const floorSockets = (await acceptBatch(variants.none)).sockets;
  const floor = spawn(exe, ['run'], { stdio: ['pipe', 'pipe', 'inherit', floorSockets[0]._handle.fd, ...floorSockets.map((s) => s._handle.fd)] });
  const floorLines = readline.createInterface({ input: floor.stdout })[Symbol.asyncIterator]();
  const steps = {
    ...Object.fromEntries(Object.entries(variants).map(([name, variant]) => [name, async () => {
      const { sockets, span } = await acceptBatch(variant);
      for (const s of sockets) s.destroy();
      return span;
    }])),
    floor: async () => {
      floor.stdin.write(`keepalive-${BATCH} 1 1\n`);
      const { value, done } = await floorLines.next();
      if (done) throw new Error('bench/floor.c run stopped');
      return Number(value) / BATCH;
    },
  };
  const names = Object.keys(steps);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const name of names.map((_, i) => names[(i + round) % names.length])) {
        const sample = await steps[name]();
        if (round > 0) samples[name].push(sample);
      }
    }
    const bracket = median(samples.none);
    // The brackets' own cost (two hrtime calls) taken out of each.
    const own = (name) => median(samples[name]) - bracket;
    return {
      batch: BATCH, rounds: ROUNDS - 1, samples, bracket, floor: median(samples.floor),
      matched: own('matched'), setKeepAlive: own('setKeepAlive'), declined: own('declined'), declinedByPort: own('declinedByPort'),
    };
  } finally {
    floor.stdin.end();
    if (floor.exitCode === null) await once(floor, 'exit');
    for (const s of [...accepted, ...floorSockets]) s.destroy();
    peer.stdin.end();
    server.close();
  }
}

async function main(exe, quick) {
  const { policy, setKeepAlive } = require('..');
  const child = fork(__filename, ['--sink'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const [ports] = await once(child, 'message');
    const result = { throughput: await throughput(ports, quick, policy, setKeepAlive), perConnection: await perConnection(exe, quick, policy) };
    if (process.send) process.send(result);
    else console.log(JSON.stringify(result, null, 2));
  } finally {
    child.disconnect();
  }
}
