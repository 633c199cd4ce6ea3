// policy() with real clients against real servers in test hosts: pg → PostgreSQL, ioredis →
// Redis, global fetch → an HTTP server, all in host b. The clients run unmodified in host a, in a
// child process of their own (a policy hooks every connection of its process: the test runner's
// stay out of it), configured only by one policy() call; beside each runs a control without it.
// Host b vanishes (blackhole) while a request is in flight.
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { createTestNetwork, keepAliveBound, type TestNetwork } from '../../src/testing';
import { requireTestHosts } from '../netns/gate';
import { startHttp, startPostgres, startRedis, type Service } from './fixtures/services';

/** With userTimeout equal to the keepalive bound, idle and busy connections share one bound. */
const KEEPALIVE = { idle: 1000, interval: 1000, count: 2, userTimeout: 3000 } as const;
/**
 * 1 s + 2 × 1 s, from the last packet heard: Linux's keepalive rule (userTimeout is the same 3 s),
 * for settings applied before the silence began (at connect), so ms after lastHeard.
 */
const BOUND = keepAliveBound(0, 0, KEEPALIVE);
/**
 * As the fault matrix (test/netns/faults.test.ts): kernel timers fire up to a timer-wheel slot
 * late, and the client and this process run beside other work on two cores. The next keepalive
 * probe is 1000 ms away, so 500 does not hide a missed bound.
 */
const TOLERANCE = 500;
/** TCP_INFO counts in jiffies (4 ms at HZ 250): "no sooner than" allows this much rounding. */
const GRAIN = 10;
/**
 * Linux counts TCP_USER_TIMEOUT from the first timeout retransmission, which on this link comes
 * after a tail-loss probe and one minimum RTO (~420 ms, measured by the fault matrix).
 */
const FIRST_RTO = 420;

interface Message {
  ready?: { taken: number };
  sent?: { kind: string; at: number };
  heard?: Array<number | null>;
  outcome?: { kind: string; ok: boolean; code?: string | null; message?: string; at: number };
  errors?: Array<{ code: string | null; at: number }>;
  dead?: { reason: string; code: string | null; silence: number | null; at: number };
  failed?: string;
}

/** A client in host a, driven over stdin, its JSON lines collected. */
class HostClient {
  readonly messages: Message[] = [];
  #waiters: Array<() => void> = [];
  constructor(readonly name: string, readonly child: ChildProcess) {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as Message;
      if (m.failed) console.error(`${name}: ${m.failed}`);
      this.messages.push(m);
      for (const w of this.#waiters.splice(0)) w();
    });
    child.once('exit', () => {
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  send(command: string): void {
    this.child.stdin!.write(`${command}\n`);
  }

  /** The first message with `key` (optionally passing `where`), waiting up to `ms`. */
  async next<K extends keyof Message>(key: K, ms: number, where: (v: NonNullable<Message[K]>) => boolean = () => true): Promise<NonNullable<Message[K]> | undefined> {
    const end = Date.now() + ms;
    for (;;) {
      const found = this.messages.find((m) => m[key] !== undefined && where(m[key]!));
      if (found) return found[key]!;
      if (this.messages.some((m) => m.failed)) throw new Error(`${this.name} failed`);
      if (this.child.exitCode !== null || Date.now() > end) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(0, end - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

function spawnClient(network: TestNetwork, name: string, config: object): HostClient {
  const root = path.join(__dirname, '..', '..');
  const child = network.a.spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures', 'client-in-host.ts'), JSON.stringify(config)], {
    cwd: root, stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new HostClient(name, child);
}

interface Scenario {
  policy: HostClient;
  control: HostClient;
  monitored?: HostClient;
  /** The in-flight request's last packet heard, per client (performance.now() of that client). */
  heard: Map<HostClient, number>;
  /** Date.now() when host b vanished. */
  faultAt: number;
}

/**
 * Host b serves `client`'s server; in host a a client with the policy, one without (and, if
 * asked, one whose policy also has a monitor) each start a request the server does not answer;
 * then b vanishes, and right after it each sends one more request on an idle connection.
 */
async function scenario(network: TestNetwork, client: 'pg' | 'ioredis' | 'fetch', service: Service, withMonitor: boolean): Promise<Scenario> {
  const base = { client, host: network.b.address, port: service.port };
  const policy = spawnClient(network, `${client} with policy`, { ...base, keepAlive: KEEPALIVE });
  const control = spawnClient(network, `${client} control`, { ...base, keepAlive: null });
  const monitored = withMonitor ? spawnClient(network, `${client} with policy and monitor`, { ...base, keepAlive: KEEPALIVE, monitor: {} }) : undefined;
  const all = [policy, control, ...(monitored ? [monitored] : [])];
  for (const c of all) {
    const ready = await c.next('ready', 60_000);
    assert.ok(ready, `${c.name} connected`);
    assert.equal(ready.taken, c === control ? 0 : 2, `${c.name}: the policy took the client's two connections`);
  }
  for (const c of all) c.send('inflight');
  for (const c of all) assert.ok(await c.next('sent', 5000), `${c.name} sent its request`);
  await new Promise((r) => setTimeout(r, 200)); // the server has the request and has ACKed it
  await network.b.blackhole();
  const faultAt = Date.now();
  const heard = new Map<HostClient, number>();
  for (const c of [policy, ...(monitored ? [monitored] : [])]) {
    c.send('fault');
    const times = await c.next('heard', 5000);
    assert.ok(times && times.every((t) => t !== null), `${c.name}: both connections still open at the fault`);
    heard.set(c, Math.max(...(times as number[]))); // the one carrying the request was heard last
    c.send('send');
  }
  control.send('send');
  return { policy, control, monitored, heard, faultAt };
}

/** What each case measured, printed after the suite. */
const measured: string[] = [];

async function assertFailsWithinBound(s: Scenario, c: HostClient, codes: readonly string[]): Promise<void> {
  const outcome = await c.next('outcome', BOUND + TOLERANCE + 5000, (o) => o.kind === 'inflight');
  assert.ok(outcome, `${c.name}: the request in flight ended`);
  assert.equal(outcome.ok, false);
  const elapsed = outcome.at - s.heard.get(c)!;
  measured.push(`${c.name}: request in flight failed with ${outcome.code ?? outcome.message} ${Math.round(elapsed)} ms after last heard (bound ${BOUND})`);
  assert.ok(codes.includes(outcome.code!), `${c.name}: the application sees ${outcome.code} (${outcome.message}), expected ${codes.join(' or ')}`);
  assert.ok(elapsed >= BOUND - GRAIN && elapsed <= BOUND + TOLERANCE,
    `${c.name}: failed ${Math.round(elapsed)} ms after last heard; the bound is ${BOUND} (+${TOLERANCE})`);
}

async function assertSentAfterFaultFails(c: HostClient, codes: readonly string[]): Promise<void> {
  const sent = await c.next('sent', 5000, (x) => x.kind === 'send');
  const outcome = await c.next('outcome', KEEPALIVE.userTimeout + FIRST_RTO + TOLERANCE + 5000, (o) => o.kind === 'send');
  assert.ok(sent && outcome, `${c.name}: the request sent after the fault ended`);
  assert.equal(outcome.ok, false);
  assert.ok(codes.includes(outcome.code!), `${c.name}: ${outcome.code} (${outcome.message})`);
  const elapsed = outcome.at - sent.at;
  measured.push(`${c.name}: request sent after the fault failed with ${outcome.code ?? outcome.message} ${Math.round(elapsed)} ms after it was sent (userTimeout ${KEEPALIVE.userTimeout})`);
  assert.ok(elapsed >= KEEPALIVE.userTimeout - GRAIN && elapsed <= KEEPALIVE.userTimeout + FIRST_RTO + TOLERANCE,
    `${c.name}: failed ${Math.round(elapsed)} ms after it was sent; userTimeout ${KEEPALIVE.userTimeout} (+${FIRST_RTO} first RTO +${TOLERANCE})`);
}

async function assertControlPending(s: Scenario): Promise<void> {
  // Measured from the fault (the cases before this one have already waited out most of it).
  const done = await s.control.next('outcome', s.faultAt + 3 * BOUND - Date.now(), (o) => o.kind === 'inflight');
  assert.equal(done, undefined, `control: still pending at 3 × ${BOUND} ms, as without the policy nothing notices`);
}

const cases: Array<{ client: 'pg' | 'ioredis' | 'fetch'; start: (n: TestNetwork) => Promise<Service>; codes: string[]; monitor: boolean }> = [
  { client: 'pg', start: startPostgres, codes: ['ETIMEDOUT'], monitor: true },
  // ioredis rejects the command itself with its own "Connection is closed."; the socket's error
  // (ETIMEDOUT) reaches the application on the client's 'error' event, checked below.
  { client: 'ioredis', start: startRedis, codes: ['ETIMEDOUT', null as unknown as string], monitor: false },
  { client: 'fetch', start: startHttp, codes: ['ETIMEDOUT'], monitor: false },
];

describe('policy() with real clients and servers in test hosts', function () {
  this.timeout(120_000);
  before(function () {
    requireTestHosts(this);
  });
  after(() => {
    for (const line of measured) console.log(`      ${line}`);
  });

  for (const { client, start, codes, monitor } of cases) {
    describe(`${client}, configured only by policy(), when host b vanishes`, () => {
      let network: TestNetwork | undefined;
      let service: Service | undefined;
      let s: Scenario;

      before(async () => {
        network = await createTestNetwork({ prefix: 'tlpol' });
        service = await start(network);
        s = await scenario(network, client, service, monitor);
      });
      after(async () => {
        await network?.close();
        service?.close();
      });

      it(`the request in flight fails within the keepalive bound counted from the last packet heard`, async () => {
        await assertFailsWithinBound(s, s.policy, codes);
      });

      it('a request sent after the fault fails within userTimeout of being sent', async () => {
        await assertSentAfterFaultFails(s.policy, codes);
      });

      if (client === 'ioredis') {
        it('the client\'s error event carries the kernel\'s ETIMEDOUT', async () => {
          s.policy.send('errors');
          const errors = await s.policy.next('errors', 5000);
          assert.ok(errors?.some((e) => e.code === 'ETIMEDOUT'), JSON.stringify(errors));
        });
      }

      if (monitor) {
        it('with a monitor in the policy, the application still sees the kernel\'s error', async () => {
          await assertFailsWithinBound(s, s.monitored!, ['ETIMEDOUT']);
        });
      }

      it('a control without the policy is still pending at 3 × the bound', async () => {
        await assertControlPending(s);
      });
    });
  }

  describe('a frozen Redis, caught by a heartbeat through the protocol\'s own PING', () => {
    let network: TestNetwork | undefined;
    let service: Service | undefined;
    after(async () => {
      await network?.close();
      service?.close();
    });

    it('the monitor in the policy declares it dead within interval + timeout of the last reply', async () => {
      network = await createTestNetwork({ prefix: 'tlpol' });
      service = await startRedis(network);
      const heartbeat = { interval: 500, timeout: 500 };
      const c = spawnClient(network, 'ioredis with heartbeat', {
        client: 'ioredis', host: network.b.address, port: service.port, keepAlive: KEEPALIVE, monitor: { heartbeat },
      });
      assert.ok(await c.next('ready', 60_000), 'connected');
      await new Promise((r) => setTimeout(r, 1500)); // a few PINGs answered: the heartbeat works while alive
      assert.equal(c.messages.find((m) => m.dead), undefined, 'no death while Redis answers');
      await network.b.freeze(); // its kernel still ACKs and answers keepalive probes
      const dead = await c.next('dead', heartbeat.interval + heartbeat.timeout + 5000);
      assert.ok(dead, 'reported dead');
      assert.equal(dead.reason, 'heartbeat');
      measured.push(`ioredis with heartbeat: frozen Redis dead (${dead.reason}) ${dead.silence} ms after its last reply (interval + timeout ${heartbeat.interval + heartbeat.timeout})`);
      // The monitor looks at an unanswered heartbeat every min(interval, timeout) / 10 = 50 ms.
      assert.ok(dead.silence !== null && dead.silence <= heartbeat.interval + heartbeat.timeout + TOLERANCE,
        `dead after ${dead.silence} ms without data; interval + timeout = ${heartbeat.interval + heartbeat.timeout} (+${TOLERANCE})`);
    });
  });
});
