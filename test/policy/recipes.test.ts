// The README's policy() recipes run against real servers, with the clients unmodified and
// configured only by the recipe's one policy() call:
// - postgres (porsager) → PostgreSQL, redis (node-redis) → Redis, mysql2 → MariaDB, all in test
//   host b, the clients in host a (the helpers of integration.test.ts): the kernel holds the
//   policy's settings after each client's own setKeepAlive, and a request in flight fails with
//   the kernel's ETIMEDOUT within the keepalive bound when b vanishes;
// - the ws server heartbeat recipe, as the README prints it, on loopback: a frozen client is
//   'dead' (heartbeat) within interval + timeout, a live one never.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as http from 'node:http';
import type * as net from 'node:net';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as readline from 'node:readline';
import { WebSocketServer, type WebSocket } from 'ws';
import { LivenessMonitor, policy, tcpInfo, type DeadReason, type KeepAlive, type Policy } from '../../src';
import { createTestNetwork, type TestNetwork } from '../../src/testing';
import { requireTestHosts } from '../netns/gate';
import { UNTOUCHED } from './fixtures';
import { startMariadb, startPostgres, startRedis, type Service } from './fixtures/services';
import {
  KEEPALIVE_APPLIED, assertFailsWithinBound, assertSentAfterFaultFails, measured, printMeasured, startWithOwnControl, vanish,
  type ClientKind, type HostClient, type Fault, type Message,
} from './host-scenario';

/**
 * What each client's own keepalive call leaves on its connections, read on the control (no
 * policy), from each client's source: the premise of "the policy wins".
 */
const recipes: Array<{ client: ClientKind; start: (n: TestNetwork) => Promise<Service>; own: KeepAlive; how: string }> = [
  {
    client: 'postgres', start: startPostgres, own: { enable: true, idle: 60_000, interval: 1000, count: 10, userTimeout: 0 },
    how: 'socket.setKeepAlive(true, 60 s) once connected (keep_alive: 60); Node adds 1 s and 10 probes',
  },
  {
    client: 'redis', start: startRedis, own: { enable: true, idle: 30_000, interval: 1000, count: 10, userTimeout: 0 },
    how: 'net.createConnection({ keepAlive: true, keepAliveInitialDelay: 30 s }); Node adds 1 s and 10 probes',
  },
  {
    client: 'mysql2', start: startMariadb, own: { ...UNTOUCHED, enable: true },
    how: 'setKeepAlive(true, undefined) while connecting: keepalive on, the kernel\'s 2 h, 75 s and 9 probes left',
  },
];

describe('policy() recipes: postgres, redis (node-redis) and mysql2 against real servers in test hosts', function () {
  this.timeout(120_000);
  let network: TestNetwork | undefined;
  const services: Service[] = [];
  const clients = new Map<ClientKind, { client: HostClient; ready: NonNullable<Message['ready']> }>();

  before(async function () {
    requireTestHosts(this);
    network = await createTestNetwork({ prefix: 'tlrec' });
    const net = network;
    services.push(...await Promise.all(recipes.map((r) => r.start(net))));
    const started = await Promise.all(recipes.map((r, i) => startWithOwnControl(net, r.client, services[i])));
    recipes.forEach((r, i) => clients.set(r.client, started[i]));
  });
  after(async () => {
    await network?.close();
    for (const s of services) s.close();
    printMeasured();
  });

  for (const { client, own, how } of recipes) {
    it(`${client}: after its own keepalive call, the kernel holds the policy's settings on both connections`, () => {
      const { ready } = clients.get(client)!;
      measured.push(`${client}: the policy took ${ready.taken} connections; the client's setKeepAlive calls it met: ${ready.reapplied}`);
      assert.deepEqual(ready.own, [own, own], `the client alone, before the policy: ${how}`);
      assert.deepEqual(ready.keepAlive, [KEEPALIVE_APPLIED, KEEPALIVE_APPLIED], 'with the policy');
    });
  }

  describe('when host b vanishes with a request in flight', () => {
    let fault: Fault;
    before(async () => {
      fault = await vanish(network!, recipes.map((r) => clients.get(r.client)!.client));
    });

    for (const { client } of recipes) {
      it(`${client}: the request in flight fails with ETIMEDOUT within the keepalive bound counted from the last packet heard`, async () => {
        await assertFailsWithinBound(fault, clients.get(client)!.client, ['ETIMEDOUT']);
      });

      it(`${client}: a request sent after the fault fails with ETIMEDOUT within userTimeout of being sent`, async () => {
        await assertSentAfterFaultFails(clients.get(client)!.client, ['ETIMEDOUT']);
      });
    }
  });
});

describe('policy() recipe: ws server heartbeats through the monitor', function () {
  this.timeout(30_000);
  const interval = 1000;
  const timeout = 1000;
  /**
   * The monitor runs its deadlines in 10 ms slots (src/schedule.ts): the ping goes out in the
   * first slot after `interval` of silence, the death in the first after `timeout` more, so up
   * to 2 × 10 ms late; TCP_INFO's last receive time is in jiffies (4 ms at HZ 250); and a timer
   * fires a few ms late even on an idle machine. 50 ms covers that with room; whatever this
   * process's event loop was held up on top (other work on the 2 cores) is measured and added.
   */
  const TOLERANCE = 50;
  const wsRows: string[] = [];
  let server: http.Server;
  let wss: WebSocketServer;
  let monitor: LivenessMonitor;
  let p: Policy;
  let child: ChildProcess | undefined;
  let serverSide: WebSocket;
  const deaths: Array<{ reason: DeadReason; silence: number | null; at: number }> = [];

  before(async () => {
    server = http.createServer();
    wss = new WebSocketServer({ server });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as net.AddressInfo).port;

    // The README's recipe, its port this server's.
    const wsOf = new WeakMap();
    monitor = new LivenessMonitor({ heartbeat: { interval: 1000, timeout: 1000, send: (s) => wsOf.get(s)?.ping() } });
    p = policy({ monitor, match: (c) => c.direction === 'inbound' && c.localPort === port });
    wss.on('connection', (ws, req) => wsOf.set(req.socket, ws));

    monitor.on('dead', (socket: net.Socket, reason: DeadReason) => {
      // ms since the client's last byte (its last pong); read before the monitor destroys it.
      deaths.push({ reason, silence: socket.destroyed ? null : tcpInfo(socket).lastDataRecv, at: performance.now() });
    });
    const connected = once(wss, 'connection') as Promise<[WebSocket]>;
    child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'ws-client.js'), `ws://127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const opened = once(readline.createInterface({ input: child.stdout! }), 'line');
    [serverSide] = await connected;
    assert.deepEqual(await opened, ['open']);
  });
  after(async () => {
    child?.kill('SIGKILL'); // also ends a stopped process
    p?.close();
    monitor?.close();
    wss?.close();
    for (const c of wss?.clients ?? []) c.terminate();
    server?.close();
    for (const line of wsRows) console.log(`      ${line}`);
  });

  it('a client that answers the pings is never reported dead', async () => {
    let pongs = 0;
    serverSide.on('pong', () => pongs++);
    // Past interval + timeout after the first ping: a ping whose answer went unseen would be a
    // death by now.
    const watched = interval + timeout + 500;
    await new Promise((r) => setTimeout(r, watched));
    wsRows.push(`ws live client: ${pongs} pings answered in ${watched} ms, ${deaths.length} deaths`);
    assert.deepEqual(deaths, [], 'no death while the client answers');
    // One ping per interval of silence: without the heartbeat there would be none.
    assert.ok(pongs >= 2, `the monitor pinged and the client answered (${pongs} pongs in ${watched} ms)`);
    assert.equal(monitor.size, 1, 'the policy handed the accepted connection to the monitor');
  });

  it('a frozen client (SIGSTOP) is dead with reason heartbeat within interval + timeout', async () => {
    const delay = monitorEventLoopDelay({ resolution: 10 });
    const closed = once(serverSide, 'close');
    child!.kill('SIGSTOP');
    const frozenAt = performance.now();
    delay.enable();
    const end = Date.now() + interval + timeout + 5000;
    while (deaths.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    delay.disable();
    const stall = delay.max / 1e6; // ns → ms
    assert.equal(deaths.length, 1, 'reported dead');
    const [dead] = deaths;
    const elapsed = dead.at - frozenAt;
    wsRows.push(`ws frozen client: dead (${dead.reason}) ${Math.round(elapsed)} ms after SIGSTOP, ${dead.silence} ms after its last pong (interval + timeout ${interval + timeout}; event loop held up at most ${Math.round(stall)} ms)`);
    assert.equal(dead.reason, 'heartbeat');
    assert.ok(dead.silence !== null && dead.silence >= interval + timeout - 10,
      `not before interval + timeout of silence (${dead.silence} ms; 10 ms for the jiffy)`);
    assert.ok(elapsed <= interval + timeout + TOLERANCE + stall,
      `dead ${Math.round(elapsed)} ms after the freeze; interval + timeout = ${interval + timeout} (+${TOLERANCE} +${Math.round(stall)} stall)`);
    // The monitor destroys what it declares dead: the ws server sees the connection close.
    const [code] = await closed;
    assert.equal(code, 1006);
  });
});
