// Shared by the policy's real-client suites (integration.test.ts, recipes.test.ts): real clients
// in test host a, each in a child process of its own (a policy hooks every connection of its
// process: the test runner's stay out of it), configured only by one policy() call, against
// real servers in host b; the fault (b vanishes with requests in flight) and the assertions on
// how each request ends.
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import type { KeepAlive } from '../../src';
import { keepAliveBound, type TestNetwork } from '../../src/testing';
import type { Service } from './fixtures/services';

/** The clients fixtures/client-in-host.ts can run. */
export type ClientKind = 'pg' | 'ioredis' | 'fetch' | 'postgres' | 'redis' | 'mysql2';

/** With userTimeout equal to the keepalive bound, idle and busy connections share one bound. */
export const KEEPALIVE = { idle: 1000, interval: 1000, count: 2, userTimeout: 3000 } as const;
/** What getKeepAlive reads back on a connection the policy took. */
export const KEEPALIVE_APPLIED: KeepAlive = { enable: true, ...KEEPALIVE };
/**
 * 1 s + 2 × 1 s, from the last packet heard: Linux's keepalive rule (userTimeout is the same 3 s),
 * for settings applied before the silence began (at connect), so ms after lastHeard.
 */
export const BOUND = keepAliveBound(0, 0, KEEPALIVE);
/**
 * As the fault matrix (test/netns/faults.test.ts): kernel timers fire up to a timer-wheel slot
 * late, and the client and this process run beside other work on two cores. The next keepalive
 * probe is 1000 ms away, so 500 does not hide a missed bound.
 */
export const TOLERANCE = 500;
/** TCP_INFO counts in jiffies (4 ms at HZ 250): "no sooner than" allows this much rounding. */
const GRAIN = 10;
/**
 * Linux counts TCP_USER_TIMEOUT from the first timeout retransmission, which on this link comes
 * after a tail-loss probe and one minimum RTO (~420 ms, measured by the fault matrix).
 */
const FIRST_RTO = 420;

export interface Message {
  /**
   * Connected. `taken`: connections the policy took; `keepAlive`: what the kernel holds on the
   * client's connections to the server, read once the client's own setup is done; `own`: the
   * same for the client connected before the policy existed (when asked: `ownFirst`);
   * `reapplied`: the policy's stats().reapplied (the client's setKeepAlive calls it met).
   */
  ready?: { taken: number; keepAlive: KeepAlive[]; own?: KeepAlive[]; reapplied: number | null };
  sent?: { kind: string; at: number };
  /** Per connection the policy took: null if it is closed. */
  heard?: Array<{ heard: number; dataSent: number } | null>;
  outcome?: { kind: string; ok: boolean; code?: string | null; message?: string; at: number };
  errors?: Array<{ code: string | null; at: number }>;
  dead?: { reason: string; code: string | null; silence: number | null; at: number };
  failed?: string;
}

/** A client in host a, driven over stdin, its JSON lines collected. */
export class HostClient {
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

export function spawnClient(network: TestNetwork, name: string, config: object): HostClient {
  const root = path.join(__dirname, '..', '..');
  const child = network.a.spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures', 'client-in-host.ts'), JSON.stringify(config)], {
    cwd: root, stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new HostClient(name, child);
}

export interface Clients {
  policy: HostClient;
  control: HostClient;
  monitored?: HostClient;
  /** Each client's ready message. */
  ready: Map<HostClient, Ready>;
}

/**
 * In host a, `client` with the policy, the same client without it (the control) and, if asked,
 * one whose policy also has a monitor, each connected twice to `service` in host b (one
 * connection to carry a request in flight, one left idle).
 */
export async function startClients(network: TestNetwork, client: ClientKind, service: Service, withMonitor = false): Promise<Clients> {
  const base = { client, host: network.b.address, port: service.port };
  const policy = spawnClient(network, `${client} with policy`, { ...base, keepAlive: KEEPALIVE });
  const control = spawnClient(network, `${client} control`, { ...base, keepAlive: null });
  const monitored = withMonitor ? spawnClient(network, `${client} with policy and monitor`, { ...base, keepAlive: KEEPALIVE, monitor: {} }) : undefined;
  const ready = new Map<HostClient, Ready>();
  for (const c of [policy, control, ...(monitored ? [monitored] : [])]) ready.set(c, await connected(c, c === control ? 0 : 2));
  return { policy, control, monitored, ready };
}

type Ready = NonNullable<Message['ready']>;

/** `c`'s ready message, once its policy has taken `taken` connections. */
async function connected(c: HostClient, taken: number): Promise<Ready> {
  const r = await c.next('ready', 60_000);
  assert.ok(r, `${c.name} connected`);
  assert.equal(r.taken, taken, `${c.name}: the policy took the client's ${taken} connections`);
  return r;
}

/**
 * In host a, `client` with the policy, its control in the same process: connected once before
 * the policy is made (nothing hooked yet), which shows what the client's own keepalive calls
 * leave (`ready.own`), beside what the kernel holds with the policy (`ready.keepAlive`). One
 * process instead of two where the control has no request to keep pending.
 */
export async function startWithOwnControl(network: TestNetwork, client: ClientKind, service: Service): Promise<{ client: HostClient; ready: Ready }> {
  const c = spawnClient(network, `${client} with policy`, { client, host: network.b.address, port: service.port, keepAlive: KEEPALIVE, ownFirst: true });
  return { client: c, ready: await connected(c, 2) };
}

export interface Fault {
  /** The in-flight request's last packet heard, per watched client (performance.now() of that client). */
  heard: Map<HostClient, number>;
  /** Date.now() when host b vanished. */
  faultAt: number;
}

/**
 * Every client starts a request the server does not answer; then b vanishes, and right after it
 * each sends one more request on its idle connection. For the `watched` clients (those with a
 * policy) it also records when their connections were last heard, which their bound counts from.
 */
export async function vanish(network: TestNetwork, watched: readonly HostClient[], others: readonly HostClient[] = []): Promise<Fault> {
  const all = [...watched, ...others];
  for (const c of all) c.send('inflight');
  for (const c of all) assert.ok(await c.next('sent', 5000), `${c.name} sent its request`);
  await new Promise((r) => setTimeout(r, 200)); // the server has the request and has ACKed it
  await network.b.blackhole();
  const faultAt = Date.now();
  const heard = new Map<HostClient, number>();
  for (const c of watched) {
    c.send('fault');
    const times = await c.next('heard', 5000);
    assert.ok(times && times.every((t) => t !== null), `${c.name}: both connections still open at the fault`);
    // The request went out last, on the connection that carries it. Not "the one heard last":
    // the idle one's keepalive probes (every second) may be answered after the request's ACK.
    const carrying = times.reduce((x, y) => (y!.dataSent > x!.dataSent ? y : x))!;
    heard.set(c, carrying.heard);
    c.send('send');
  }
  for (const c of others) c.send('send');
  return { heard, faultAt };
}

/** What each case measured, printed after the suite. */
export const measured: string[] = [];

/** For a suite's `after`: prints what its cases measured, and forgets it (the next file has its own). */
export function printMeasured(): void {
  for (const line of measured.splice(0)) console.log(`      ${line}`);
}

export async function assertFailsWithinBound(fault: Fault, c: HostClient, codes: readonly string[]): Promise<void> {
  const outcome = await c.next('outcome', BOUND + TOLERANCE + 5000, (o) => o.kind === 'inflight');
  assert.ok(outcome, `${c.name}: the request in flight ended`);
  assert.equal(outcome.ok, false);
  const elapsed = outcome.at - fault.heard.get(c)!;
  measured.push(`${c.name}: request in flight failed with ${outcome.code ?? outcome.message} ${Math.round(elapsed)} ms after last heard (bound ${BOUND})`);
  assert.ok(codes.includes(outcome.code!), `${c.name}: the application sees ${outcome.code} (${outcome.message}), expected ${codes.join(' or ')}`);
  assert.ok(elapsed >= BOUND - GRAIN && elapsed <= BOUND + TOLERANCE,
    `${c.name}: failed ${Math.round(elapsed)} ms after last heard; the bound is ${BOUND} (+${TOLERANCE})`);
}

export async function assertSentAfterFaultFails(c: HostClient, codes: readonly string[]): Promise<void> {
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

export async function assertControlPending(fault: Fault, control: HostClient): Promise<void> {
  // Measured from the fault (the cases before this one have already waited out most of it).
  const done = await control.next('outcome', fault.faultAt + 3 * BOUND - Date.now(), (o) => o.kind === 'inflight');
  assert.equal(done, undefined, `control: still pending at 3 × ${BOUND} ms, as without the policy nothing notices`);
}
