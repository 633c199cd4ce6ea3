// The test process reaches test hosts directly: a client library's own connect to a host's
// address arrives in that host and nowhere else, faults on the host reach those connections as
// they reach agent sockets, real servers run in a host, and all of it works without root through
// tcp-liveness-netns.
import { strict as assert } from 'node:assert';
import { execFile, execFileSync } from 'node:child_process';
import * as net from 'node:net';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { setKeepAlive, tcpInfo } from '../../src';
import { assertDies, createTestNetwork, lastHeard, type Death, type TestNetwork } from '../../src/testing';
import { rangeUsers } from '../../src/testing/reach';
import { until } from '../helpers';
import { asOrdinaryUser, requireTestHosts } from './gate';
import { postgresBin, startPostgres, startRedis } from './servers';
import { GRAIN, KEEPALIVE, KEEPALIVE_BOUND, TOLERANCE } from './timing';

const root = join(__dirname, '..', '..');
const networks = new Set<TestNetwork>();
const measured: string[] = [];

async function network(): Promise<TestNetwork> {
  const n = await createTestNetwork();
  networks.add(n);
  return n;
}

function connected(socket: net.Socket): Promise<net.Socket> {
  return new Promise((resolve, reject) => socket.once('connect', () => resolve(socket)).once('error', reject));
}

/**
 * Waits until host b has acknowledged everything on `socket` (keepalive counts from then), takes
 * b off the network and asserts that the socket fails with ETIMEDOUT at the keepalive bound.
 */
async function diesWhenBVanishes(n: TestNetwork, socket: net.Socket, client: string): Promise<Death> {
  await until(() => tcpInfo(socket).unacked === 0, 2000, 'host b to acknowledge everything sent');
  const heard = lastHeard(socket);
  await n.b.blackhole();
  const death = await assertDies(socket, {
    reason: 'timeout', code: 'ETIMEDOUT', since: heard, after: KEEPALIVE_BOUND - GRAIN, within: KEEPALIVE_BOUND + TOLERANCE,
  });
  measured.push(`${client.padEnd(12)} ${death.code} ${Math.round(death.elapsed)} ms after last heard (bound ${KEEPALIVE_BOUND}..${KEEPALIVE_BOUND + TOLERANCE})`);
  return death;
}

/** The outcome of a command: exit code and everything it printed. */
function outcome(command: string, args: readonly string[], options: { timeout?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, [...args], { cwd: root, timeout: options.timeout ?? 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

describe('the test process reaches test hosts directly', function () {
  this.timeout(60_000);

  before(function () {
    requireTestHosts(this);
  });

  afterEach(async () => {
    await Promise.all([...networks].map((n) => n.close()));
    networks.clear();
  });

  after(() => {
    if (measured.length > 0) console.log(`\n      host b vanished under a direct connection:\n${measured.map((m) => `        ${m}`).join('\n')}`);
  });

  it('a plain net.connect to a server in host b fails with ETIMEDOUT at the keepalive bound when b vanishes', async () => {
    const n = await network();
    const peer = await n.b.serve();
    const socket = await connected(net.connect(peer.port, n.b.address));
    assert.equal(socket.localAddress, n.localAddress, 'the connection leaves from this process\'s address on the test network');
    assert.equal((await peer.accepted(socket)).remoteAddress, n.localAddress, 'and arrives in host b');
    setKeepAlive(socket, KEEPALIVE);
    socket.write('ping');
    assert.equal(String((await new Promise<Buffer>((resolve) => socket.once('data', resolve)))), 'ping');
    await diesWhenBVanishes(n, socket, 'net.connect');
  });

  it('pg: a query in flight when host b vanishes fails with ETIMEDOUT at the keepalive bound', async function () {
    if (!postgresBin()) assert.fail('PostgreSQL is not installed: run scripts/install-test-deps.sh');
    const n = await network();
    const postgres = await startPostgres(n.b);
    const client = new Client({ host: n.b.address, port: postgres.service.port, user: 'postgres', database: 'postgres' });
    const clientErrors: Error[] = [];
    client.on('error', (err: Error) => clientErrors.push(err));
    try {
      await client.connect();
      const stream = (client as unknown as { connection: { stream: net.Socket } }).connection.stream;
      setKeepAlive(stream, KEEPALIVE);
      const query = client.query('SELECT pg_sleep(60)');
      const failed = query.then(() => null, (err: NodeJS.ErrnoException) => err);
      await diesWhenBVanishes(n, stream, 'pg');
      const err = await failed;
      assert.equal(err?.code, 'ETIMEDOUT', `the query fails with the socket's error: ${err?.message}`);
      assert.equal((clientErrors[0] as NodeJS.ErrnoException | undefined)?.code, 'ETIMEDOUT');
    } finally {
      await client.end().catch(() => {});
      await n.close();
      postgres.remove();
    }
  });

  it('ioredis: a connection to Redis in host b emits ETIMEDOUT on its \'error\' event at the keepalive bound when b vanishes', async () => {
    const n = await network();
    const service = await startRedis(n.b);
    const redis = new Redis({ host: n.b.address, port: service.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    const errors: NodeJS.ErrnoException[] = [];
    redis.on('error', (err: NodeJS.ErrnoException) => errors.push(err));
    try {
      await redis.connect();
      // ioredis calls Node's setKeepAlive on 'connect'; ours goes after it.
      const stream = (redis as unknown as { stream: net.Socket }).stream;
      setKeepAlive(stream, KEEPALIVE);
      assert.equal(await redis.ping(), 'PONG');
      const blocked = redis.blpop('never-pushed', 0).then(() => null, (err: Error) => err);
      const death = await diesWhenBVanishes(n, stream, 'ioredis');
      await until(() => errors.length > 0, 1000, 'ioredis to emit \'error\'');
      assert.equal(errors[0].code, 'ETIMEDOUT');
      assert.ok(death.elapsed <= KEEPALIVE_BOUND + TOLERANCE);
      assert.ok((await blocked) instanceof Error, 'the blocked command fails');
    } finally {
      redis.disconnect();
    }
  });

  it('a kill or a reboot of host b reaches a direct connection as it reaches an agent socket', async () => {
    const n = await network();
    const peer = await n.b.serve({ behavior: 'sink' });
    const direct = await connected(net.connect(peer.port, n.b.address));
    const viaA = await n.a.connect(peer.port);
    await Promise.all([peer.accepted(direct), peer.accepted(viaA)]);
    const killed = n.b.kill();
    const deaths = await Promise.all([direct, viaA].map((s) => assertDies(s, { reason: 'peer-closed', code: null, since: killed, within: TOLERANCE })));
    assert.deepEqual(deaths.map((d) => d.reason), ['peer-closed', 'peer-closed']);
    // A reboot forgets the connection without a word: the next write draws an RST.
    const again = await n.b.serve({ behavior: 'sink' });
    const before = await connected(net.connect(again.port, n.b.address));
    await again.accepted(before);
    await n.b.reboot();
    const since = performance.now();
    before.write('anyone there?');
    await assertDies(before, { reason: 'reset', code: 'ECONNRESET', since, within: TOLERANCE });
  });

  it('two networks at once have their own addresses, and each connect reaches its own host', async () => {
    const [one, two] = await Promise.all([network(), network()]);
    const addresses = [one.a.address, one.b.address, one.localAddress, two.a.address, two.b.address, two.localAddress];
    assert.equal(new Set(addresses).size, 6, `no address is shared: ${addresses.join(' ')}`);
    for (const n of [one, two]) {
      const peer = await n.b.serve();
      const socket = await connected(net.connect(peer.port, n.b.address));
      assert.equal((await peer.accepted(socket)).remoteAddress, n.localAddress);
      socket.destroy();
      const route = execFileSync('ip', ['route', 'get', n.b.address], { encoding: 'utf8' });
      assert.match(route, new RegExp(` dev ${n.b.uplink} `), 'its route goes up its own uplink');
    }
  });

  it('nothing is routed out of the machine: after close(), or to an address of the range that is no host, a connect fails at once with EHOSTUNREACH', async () => {
    const n = await network();
    const peer = await n.b.serve();
    const gone = n.b.address;
    // Another slot's host a: an address of the range no network here has (slots are random).
    const octets = n.a.address.split('.').map(Number);
    const unused = [octets[0], octets[1], (octets[2] + 128) % 256, octets[3]].join('.');
    await n.close();
    for (const address of [gone, unused]) {
      const started = performance.now();
      const err = await new Promise<NodeJS.ErrnoException>((resolve, reject) => {
        const s = net.connect(peer.port, address);
        s.once('connect', () => reject(new Error(`a connect to ${address} succeeded`)));
        s.once('error', resolve);
      });
      assert.equal(err.code, 'EHOSTUNREACH', `${address}: ${err.message}`);
      assert.ok(performance.now() - started < 1000, 'it fails at once: no SYN is retried anywhere');
      assert.throws(() => execFileSync('ip', ['route', 'get', address], { stdio: 'pipe' }), /No route to host|unreachable/i);
    }
  });

  it('the range is checked before use: a route of the machine that overlaps it is reported', async () => {
    const n = await network();
    // Inside host a, the cable's route to host b is "the machine's" route into the range.
    const users = await n.a.exec(process.execPath, ['--import', 'tsx', '-e',
      `console.log(JSON.stringify(require(${JSON.stringify(join(root, 'src', 'testing', 'reach.ts'))}).rangeUsers(${JSON.stringify(`${n.b.address}/16`)})))`]);
    assert.ok((JSON.parse(users) as string[]).some((u) => u.startsWith(`route ${n.b.address}/32 dev veth0`)), users);
    // Here, the harness's own uplinks and guard do not count as users of the range.
    assert.deepEqual(rangeUsers(`${n.b.address}/16`), []);
  });

  describe('without root, through tcp-liveness-netns', () => {
    const runner = join(root, 'bin', 'tcp-liveness-netns.js');

    it('as an ordinary user (nobody, when the suite runs as root), the net.connect case passes: ETIMEDOUT at the keepalive bound', async () => {
      const { code, stdout, stderr } = await outcome(...asOrdinaryUser(process.execPath, [runner, process.execPath, join(__dirname, 'fixtures', 'direct-connect.js')]));
      assert.equal(code, 0, stdout + stderr);
      const seen = JSON.parse(stdout.trim().split('\n').pop()!) as { uid: number; code: string; elapsed: number; bound: number; local: string; localAddress: string };
      assert.equal(seen.uid, 0, 'root inside its user namespace');
      assert.equal(seen.code, 'ETIMEDOUT');
      assert.ok(seen.elapsed >= seen.bound - GRAIN && seen.elapsed <= seen.bound + TOLERANCE, stdout);
      assert.equal(seen.local, seen.localAddress);
    });

    it('where user namespaces are not allowed, one clear error says what is missing and how to enable it', async () => {
      // user.max_user_namespaces is per user namespace: set to 0 inside one, it forbids the runner
      // there without touching the machine's setting (tested against the real sysctl by hand).
      const { code, stdout, stderr } = await outcome(...asOrdinaryUser('unshare', ['--user', '--map-root-user', 'sh', '-c',
        'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"', 'sh', process.execPath, runner, 'true']));
      assert.equal(code, 1, stdout + stderr);
      assert.equal(stdout, '');
      assert.equal(stderr.trim().split('\n').length, 1, `one line: ${stderr}`);
      assert.match(stderr, /^tcp-liveness-netns: unprivileged user namespaces are not allowed on this machine/);
      assert.match(stderr, /user\.max_user_namespaces is 0: enable with `sudo sysctl -w user\.max_user_namespaces=15000`/);
    });
  });
});
