// Every way a TCP connection dies, on the real kernel between two network namespaces, and how
// fast each is caught. The code under test (LivenessMonitor) runs in this process on sockets
// that live in host `a`; the peer is the agent program in host `b`. Every case has its own pair
// of hosts, so all of them run at once: the suite takes as long as its longest case, not the sum.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import { getKeepAlive, LivenessMonitor, setKeepAlive, tcpInfo, type KeepAliveOptions, type MonitorOptions } from '../../src';
import {
  assertDies, assertStaysAlive, createTestNetwork, keepAliveBound, lastHeard, liveNamespaces, liveUplinks, waitForDeath,
  type AssertDiesOptions, type Death, type TestNetwork,
} from '../../src/testing';
import { sleep, until } from '../helpers';
import { requireTestHosts } from './gate';
import { GRAIN, KEEPALIVE, KEEPALIVE_BOUND, TOLERANCE } from './timing';

const PING = 'ping\n';
/**
 * Linux counts TCP_USER_TIMEOUT from the first timeout retransmission, not from the write: on a
 * LAN that comes after a tail-loss probe (~200 ms for one segment in flight) and one minimum
 * RTO (200 ms), so a vanished host is dropped about userTimeout + 420 ms after the write.
 */
const FIRST_RTO = 420;

// ---- bookkeeping: networks, monitors, the measured times ----

const networks = new Set<TestNetwork>();
const monitors = new Set<LivenessMonitor>();
const measured: Array<{ case: string; outcome: string; took: number; bound: string }> = [];

function monitor(options?: MonitorOptions): LivenessMonitor {
  const m = new LivenessMonitor(options);
  monitors.add(m);
  return m;
}

/** Runs a case in its own pair of hosts, removed when it ends however it ends. */
async function withNetwork(fn: (network: TestNetwork) => Promise<void>): Promise<void> {
  const network = await createTestNetwork();
  networks.add(network);
  try {
    await fn(network);
  } finally {
    await network.close();
    networks.delete(network);
  }
}

function record(caseName: string, death: Death | null, took: number, bound: string): void {
  const outcome = death ? `${death.reason}${death.code ? ` ${death.code}` : ''}` : 'not reported';
  measured.push({ case: caseName, outcome, took: Math.round(took), bound });
}

/** A connection from `a` (this process, paused: only the monitor looks at it) to `b`'s agent. */
async function connect(network: TestNetwork, port: number) {
  return network.a.connect(port, { pauseOnConnect: true });
}

/** A paused socket in host a, connected to a peer in host b that reads and drops. */
async function sinkConnection(network: TestNetwork) {
  const peer = await network.b.serve({ behavior: 'sink' });
  const socket = await connect(network, peer.port);
  return { socket, remote: await peer.accepted(socket) };
}

/** Watches `socket`, does `fault`, and expects the death it causes within TOLERANCE of it. */
async function diesAtOnce(socket: net.Socket, expected: Pick<AssertDiesOptions, 'reason' | 'code'>, fault: () => Promise<unknown>) {
  const m = monitor().add(socket);
  const since = performance.now();
  const [death] = await Promise.all([assertDies(socket, { monitor: m, ...expected, since, within: TOLERANCE }), fault()]);
  return death;
}

/** Agents this process started that are still alive (not zombies waiting to be reaped). */
function agentsAlive(): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) !== process.pid || state === 'Z') continue;
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('testing-agent')) found.push(Number(pid));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

// ---- running the cases concurrently ----

interface Case { title: string; run: () => Promise<void>; promise?: Promise<void> }
const cases: Case[] = [];

function start(c: Case): Promise<void> {
  if (!c.promise) {
    c.promise = c.run();
    c.promise.catch(() => {}); // reported by its own `it`
  }
  return c.promise;
}

/** Declares a case: it starts with all the others in `before`, and its `it` awaits it. */
function fault(title: string, run: () => Promise<void>): void {
  const c: Case = { title, run };
  cases.push(c);
  it(title, () => start(c));
}

describe('every way a connection dies is caught (network namespaces)', function () {
  this.timeout(60_000);

  before(function () {
    requireTestHosts(this);
  });
  before(() => {
    for (const c of cases) start(c);
  });

  after(async () => {
    await Promise.allSettled(cases.map((c) => c.promise));
    for (const m of monitors) m.close();
    await Promise.all([...networks].map((n) => n.close()));
    if (measured.length > 0) {
      console.log('\n      detection times (ms; bounds measured from when the peer was last heard or the fault)');
      for (const r of measured) console.log(`        ${r.case.padEnd(40)} ${r.outcome.padEnd(36)} ${String(r.took).padStart(6)}  ${r.bound}`);
    }
    assert.deepEqual(liveNamespaces(), [], 'every namespace is removed');
    const end = Date.now() + 2000; // SIGKILL takes a moment
    while (agentsAlive().length > 0 && Date.now() < end) await sleep(10);
    assert.deepEqual(agentsAlive(), [], 'every agent process has exited');
    // The cable is made inside the namespaces and dies with them: none ever appears here; the
    // uplinks that do are removed with their network.
    const veths = execFileSync('ip', ['-o', 'link', 'show', 'type', 'veth'], { encoding: 'utf8' });
    assert.doesNotMatch(veths, /: veth0[@:]/, 'no end of a test cable in this namespace');
    assert.deepEqual(liveUplinks(), [], 'every uplink is removed');
  });

  fault('1. a peer FIN is reported as peer-closed and the CLOSE_WAIT socket is freed', () => withNetwork(async (network) => {
    const { socket, remote } = await sinkConnection(network);
    const death = await diesAtOnce(socket, { reason: 'peer-closed', code: null }, () => remote.end());
    record('1 peer closes (FIN)', death, death.elapsed, `<= ${TOLERANCE} after the FIN`);
    assert.equal(death.via, 'monitor');
    assert.equal(death.tcp?.state, 'CLOSE_WAIT', 'it was in CLOSE_WAIT when reported');
    await once(socket, 'close');
    const port = `${network.a.address}:${socket.localPort}`;
    assert.deepEqual((await network.a.sockets()).filter((s) => s.local === port && s.state === 'CLOSE-WAIT'), []);
    // Our FIN follows the destroy; once the peer acknowledges it the kernel holds nothing.
    const end = performance.now() + 2000;
    while ((await network.a.sockets()).some((s) => s.local === port)) {
      assert.ok(performance.now() < end, 'the socket is gone from the kernel once the peer acknowledges our FIN');
      await sleep(10);
    }
  }));

  fault('2. a peer reset is reported as reset with ECONNRESET', () => withNetwork(async (network) => {
    const { socket, remote } = await sinkConnection(network);
    const death = await diesAtOnce(socket, { reason: 'reset', code: 'ECONNRESET' }, () => remote.reset());
    record('2 peer resets (RST)', death, death.elapsed, `<= ${TOLERANCE} after the RST`);
    assert.equal(death.via, 'monitor');
  }));

  fault('3. a peer process killed with SIGKILL is caught: FIN when it had read everything, RST when not', () => withNetwork(async (network) => {
    const reading = await network.b.serve({ behavior: 'sink' });
    const notReading = await network.b.serve({ behavior: 'paused' });
    const clean = await connect(network, reading.port);
    const unread = await connect(network, notReading.port);
    await Promise.all([reading.accepted(clean), notReading.accepted(unread)]);
    unread.write('data the peer will never read');
    await until(() => tcpInfo(unread).unacked === 0, 2000, 'the peer kernel to acknowledge the data');
    const m = monitor().add(clean).add(unread);
    const killed = network.b.kill('SIGKILL'); // resolves with the moment the signal went
    const [a, b] = await Promise.all([
      assertDies(clean, { monitor: m, reason: 'peer-closed', code: null, since: killed, within: TOLERANCE }),
      assertDies(unread, { monitor: m, reason: 'reset', code: 'ECONNRESET', since: killed, within: TOLERANCE }),
    ]);
    record('3 peer SIGKILLed (nothing unread)', a, a.elapsed, `<= ${TOLERANCE} after the kill`);
    record('3 peer SIGKILLed (data unread)', b, b.elapsed, `<= ${TOLERANCE} after the kill`);
  }));

  fault(`4. a peer host that vanishes while idle is reported as timeout, ETIMEDOUT, at idle + interval × count`, () => withNetwork(async (network) => {
    const { socket } = await sinkConnection(network);
    // Gone first, then watched: a probe sent before this side has taken in the lost carrier
    // fails locally and is retried 0.5 s later without counting, which under load (a slow
    // blackhole) would move the bound. The kernel's rule covers either order.
    await network.b.blackhole();
    const heard = lastHeard(socket);
    const applied = performance.now();
    const m = monitor({ keepAlive: KEEPALIVE }).add(socket);
    const bound = keepAliveBound(heard, applied, KEEPALIVE) - heard; // the kernel's rule, from the last packet heard
    const death = await assertDies(socket, {
      monitor: m, reason: 'timeout', code: 'ETIMEDOUT', since: heard, after: bound - GRAIN, within: bound + TOLERANCE,
    });
    record('4 blackhole, idle (keepalive)', death, death.elapsed, `${Math.round(bound)}..${Math.round(bound + TOLERANCE)} after last heard`);
    assert.ok(death.silence! >= bound - GRAIN, `the kernel had heard nothing for ${death.silence} ms`);
  }));

  fault('5. with data unacknowledged keepalive never probes; userTimeout reports the vanished host at userTimeout, and without it the connection lives on', () => withNetwork(async (network) => {
    const userTimeout = 2000;
    const peer = await network.b.serve({ behavior: 'sink' });
    const withTimeout = await connect(network, peer.port);
    const without = await connect(network, peer.port);
    await Promise.all([peer.accepted(withTimeout), peer.accepted(without)]);
    const m = monitor();
    m.add(withTimeout, { keepAlive: { ...KEEPALIVE, userTimeout } });
    m.add(without, { keepAlive: KEEPALIVE });
    await network.b.blackhole();
    // Probes already out: the keepalive timer counts from the last packet heard, so a probe may
    // go before the write when the blackhole takes longer than idle. None may go after it.
    const probesBefore = tcpInfo(without).probes;
    const written = performance.now();
    withTimeout.write('unacknowledged');
    without.write('unacknowledged');
    const bound = userTimeout + FIRST_RTO;
    const death = await assertDies(withTimeout, {
      monitor: m, reason: 'timeout', code: 'ETIMEDOUT', since: written, after: userTimeout - GRAIN, within: bound + TOLERANCE,
    });
    record('5 blackhole, data unacked, userTimeout', death, death.elapsed, `${userTimeout}..${bound + TOLERANCE} after the write`);
    // The same window, and on past twice the keepalive bound: nothing notices the other one.
    const window = 2 * KEEPALIVE_BOUND;
    const other = await waitForDeath(without, { monitor: m, timeout: written + window - performance.now(), since: written });
    const info = tcpInfo(without);
    record('5 same, keepalive only', other, window, `alive at ${window}: ${info.retransmits} retransmissions, ${info.probes} keepalive probes`);
    assert.equal(other, null, 'without userTimeout the vanished host is not noticed');
    assert.equal(info.state, 'ESTABLISHED');
    assert.ok(info.unacked > 0 && info.retransmits > 0, 'the kernel is retransmitting');
    assert.equal(info.probes, probesBefore, 'and sends no keepalive probes while data is unacknowledged');
  }));

  fault('6. a frozen peer (SIGSTOP) whose kernel still answers is not a keepalive death; the heartbeat reports it', () => withNetwork(async (network) => {
    const heartbeat = { interval: 500, timeout: 500 };
    const peer = await network.b.serve({ behavior: 'echo' });
    const kept = await connect(network, peer.port);
    const beating = await connect(network, peer.port);
    await Promise.all([peer.accepted(kept), peer.accepted(beating)]);
    const byKeepAlive = monitor({ keepAlive: KEEPALIVE }).add(kept);
    let pings = 0;
    const byHeartbeat = monitor({ heartbeat: { ...heartbeat, send: (s) => { pings++; s.write('ping\n'); } } }).add(beating);
    // While the peer runs it answers: nothing is reported.
    await assertStaysAlive(beating, { monitor: byHeartbeat, duration: 1200 });
    assert.ok(pings >= 2, `${pings} heartbeats answered before the freeze`);
    const frozen = await network.b.freeze();
    const bound = heartbeat.interval + heartbeat.timeout;
    const death = await assertDies(beating, {
      monitor: byHeartbeat, reason: 'heartbeat', code: 'ERR_TCP_LIVENESS_HEARTBEAT', since: frozen, within: bound + TOLERANCE,
    });
    // Counted from the last data the peer sent (its last answer), it is exactly interval + timeout.
    const silentFor = death.tcp!.lastDataRecv;
    record('6 peer frozen, heartbeat', death, silentFor, `${bound}..${bound + TOLERANCE} after its last answer`);
    assert.ok(silentFor >= bound - GRAIN && silentFor <= bound + TOLERANCE, `the peer had been silent ${silentFor} ms`);
    // Three keepalive bounds from the freeze, and the kernel keeps answering probes.
    const window = 3 * KEEPALIVE_BOUND;
    await assertStaysAlive(kept, { monitor: byKeepAlive, duration: frozen + window - performance.now() });
    const info = tcpInfo(kept);
    record('6 peer frozen, keepalive', null, window, `alive at ${window}; last ACK ${info.lastAckRecv} ms ago`);
    assert.equal(info.state, 'ESTABLISHED');
    assert.ok(info.lastAckRecv < KEEPALIVE_BOUND, `the frozen peer's kernel answered the probes (last ACK ${info.lastAckRecv} ms ago)`);
  }));

  fault('7. a peer host that comes back without the connection draws an RST: on the next keepalive probe, or at once on a write', () => withNetwork(async (network) => {
    const keepAlive = { idle: 2000, interval: 1000, count: 3 };
    const peer = await network.b.serve({ behavior: 'sink' });
    const probed = await connect(network, peer.port);
    const written = await connect(network, peer.port);
    await Promise.all([peer.accepted(probed), peer.accepted(written)]);
    const applied = performance.now();
    const m = monitor({ keepAlive }).add(probed).add(written);
    const heard = lastHeard(probed);
    const { up } = await network.b.reboot(); // link down, processes killed, connections forgotten, restarted, link up
    // The first keepalive probe sent after the host is back is answered with an RST. By the
    // kernel's rule the first probe goes out when the bound with no unanswered probes allowed
    // (count 0) would end the connection, and one more every interval until count are out.
    const firstProbe = keepAliveBound(heard, applied, { ...keepAlive, count: 0 });
    const probes = Array.from({ length: keepAlive.count }, (_, i) => firstProbe + i * keepAlive.interval);
    const probeAt = probes.find((t) => t >= up);
    assert.ok(probeAt !== undefined, `the reboot took ${Math.round(up - heard)} ms: longer than the keepalive bound`);
    // Listened for before the write: the probe after the reboot may come while the write's RST is awaited.
    const probeDeath = assertDies(probed, {
      monitor: m, reason: 'reset', code: 'ECONNRESET', since: heard, after: probeAt - heard - GRAIN, within: probeAt - heard + TOLERANCE,
    });
    probeDeath.catch(() => {}); // awaited below
    const wrote = performance.now();
    written.write('hello again?');
    const rst = await assertDies(written, { monitor: m, reason: 'reset', code: 'ECONNRESET', since: wrote, within: TOLERANCE });
    record('7 host back, write', rst, rst.elapsed, `<= ${TOLERANCE} after the write`);
    const death = await probeDeath;
    record('7 host back, keepalive probe', death, death.elapsed, `${Math.round(probeAt - heard)} (the probe after the reboot)`);
  }));

  fault('8. a peer that stops reading (zero window) is found by the heartbeat; keepalive never probes a full window', () => withNetwork(async (network) => {
    const heartbeat = { interval: 500, timeout: 500 };
    const userTimeout = 2000;
    const peer = await network.b.serve({ behavior: 'echo' });
    const sockets = {
      keepAlive: await connect(network, peer.port),
      userTimeout: await connect(network, peer.port),
      heartbeat: await connect(network, peer.port),
    };
    const remotes = await Promise.all(Object.values(sockets).map((s) => peer.accepted(s)));
    const monitors = {
      keepAlive: monitor({ keepAlive: KEEPALIVE }).add(sockets.keepAlive),
      userTimeout: monitor({ keepAlive: { ...KEEPALIVE, userTimeout } }).add(sockets.userTimeout),
      heartbeat: monitor({ heartbeat: { ...heartbeat, send: (s) => s.write('ping\n') } }).add(sockets.heartbeat),
    };
    await sleep(700); // a heartbeat or two answered
    await Promise.all(remotes.map((r) => r.pause()));
    const flood = Buffer.alloc(8 << 20, 'x');
    for (const s of Object.values(sockets)) s.write(flood);
    await until(() => Object.values(sockets).every((s) => tcpInfo(s).sndWnd === 0), 5000, 'the peer to advertise a zero window');
    const closed = performance.now();
    const window = 2 * KEEPALIVE_BOUND;
    const deaths = await Promise.all((Object.keys(sockets) as Array<keyof typeof sockets>).map((k) =>
      waitForDeath(sockets[k], { monitor: monitors[k], timeout: window, since: closed })));
    const [byKeepAlive, byUserTimeout, byHeartbeat] = deaths;
    record('8 zero window, keepalive', byKeepAlive, byKeepAlive?.elapsed ?? window, byKeepAlive ? 'after the window closed' : `alive at ${window}`);
    record('8 zero window, userTimeout', byUserTimeout, byUserTimeout?.elapsed ?? window, byUserTimeout ? 'after the window closed' : `alive at ${window}`);
    record('8 zero window, heartbeat', byHeartbeat, byHeartbeat?.tcp?.lastDataRecv ?? window, `${heartbeat.interval + heartbeat.timeout}..${heartbeat.interval + heartbeat.timeout + TOLERANCE} after its last answer`);
    assert.ok(byHeartbeat, 'the heartbeat reports a peer that stopped reading');
    assert.equal(byHeartbeat.reason, 'heartbeat');
    assert.equal(byHeartbeat.code, 'ERR_TCP_LIVENESS_HEARTBEAT');
    const bound = heartbeat.interval + heartbeat.timeout;
    const silentFor = byHeartbeat.tcp!.lastDataRecv;
    assert.ok(silentFor >= bound - GRAIN && silentFor <= bound + TOLERANCE, `the peer had been silent ${silentFor} ms`);
    assert.equal(byKeepAlive, null, 'keepalive does not probe while data waits to be sent');
  }));

  fault('a listener tuned once passes its keepalive to accepted sockets, which catch a vanished client at the bound', () => withNetwork(async (network) => {
    const m = monitor();
    // One server tuned with setKeepAlive(server), one by the monitor: both tune the listener.
    const tunedByHand = await network.a.listen({ server: net.createServer({ pauseOnConnect: true }) });
    setKeepAlive(tunedByHand, KEEPALIVE);
    m.add(tunedByHand);
    const tunedByMonitor = await network.a.listen({ server: net.createServer({ pauseOnConnect: true }) });
    m.add(tunedByMonitor, { keepAlive: KEEPALIVE });
    const accepted = await Promise.all([tunedByHand, tunedByMonitor].map(async (server) => {
      const arrived = once(server, 'connection') as Promise<[net.Socket]>;
      await network.b.dial((server.address() as net.AddressInfo).port, { behavior: 'sink' });
      const [socket] = await arrived;
      return socket;
    }));
    for (const socket of accepted) {
      assert.deepEqual(getKeepAlive(socket), { enable: true, ...KEEPALIVE, userTimeout: 0 }, 'inherited from the listener');
      assert.equal(m.has(socket), true);
    }
    const heard = accepted.map(lastHeard);
    // Inherited at accept, with the handshake's last ACK: the settings took effect when last heard.
    const bounds = heard.map((h) => keepAliveBound(h, h, KEEPALIVE) - h);
    await network.b.blackhole();
    const deaths = await Promise.all(accepted.map((socket, i) => assertDies(socket, {
      monitor: m, reason: 'timeout', code: 'ETIMEDOUT', since: heard[i], after: bounds[i] - GRAIN, within: bounds[i] + TOLERANCE,
    })));
    record('listener setKeepAlive(server)', deaths[0], deaths[0].elapsed, `${KEEPALIVE_BOUND}..${KEEPALIVE_BOUND + TOLERANCE} after last heard`);
    record('listener monitor.add(server)', deaths[1], deaths[1].elapsed, `${KEEPALIVE_BOUND}..${KEEPALIVE_BOUND + TOLERANCE} after last heard`);
  }));

  fault('9. healthy connections, busy or quiet, are never reported while all of the above happens', () => withNetwork(async (network) => {
    const settings: { keepAlive: KeepAliveOptions } & MonitorOptions = {
      keepAlive: { ...KEEPALIVE, userTimeout: 1500 },
      heartbeat: { interval: 300, timeout: 300, send: (s) => { s.write(PING); if (s === busy) pinged += PING.length; } },
    };
    // The echo peer answers heartbeats too: a loaded machine that delays the echo past the
    // heartbeat interval, or the quiet after the traffic stops, makes the monitor ping `busy`.
    let pinged = 0;
    const m = monitor(settings);
    const peer = await network.b.serve({ behavior: 'echo' });
    const busy = await network.a.connect(peer.port); // read by the application, as most are
    const quiet = await connect(network, peer.port); // only heartbeats and keepalive probes
    await Promise.all([peer.accepted(busy), peer.accepted(quiet)]);
    m.add(busy).add(quiet);
    let echoed = 0;
    busy.on('data', (d: Buffer) => { echoed += d.length; });
    let sent = 0;
    const chunk = Buffer.alloc(512, 'y');
    const traffic = setInterval(() => { busy.write(chunk); sent += chunk.length; }, 20);
    const deaths: string[] = [];
    m.on('dead', (s, reason) => deaths.push(`${s === busy ? 'busy' : 'quiet'}: ${reason}`));
    const began = performance.now();
    try {
      // Alive for as long as every other case runs, and never less than three keepalive bounds.
      await Promise.allSettled(cases.filter((c) => !c.title.startsWith('9.')).map(start));
      const left = began + 3 * KEEPALIVE_BOUND - performance.now();
      if (left > 0) await sleep(left);
    } finally {
      clearInterval(traffic);
    }
    const lasted = performance.now() - began;
    await until(() => echoed === sent + pinged, 2000, 'the last echoes');
    record('9 healthy, busy and quiet', null, lasted, `never reported; ${sent} bytes echoed, ${m.stats().heartbeats} heartbeats`);
    assert.deepEqual(deaths, []);
    assert.equal(m.size, 2);
    assert.ok(m.stats().heartbeats >= 3, `the quiet connection was heartbeated (${m.stats().heartbeats})`);
    assert.equal(busy.destroyed || quiet.destroyed, false);
  }));
});
