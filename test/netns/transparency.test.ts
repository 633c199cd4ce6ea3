// The monitor never changes what the application learns: whoever finds a death first (the
// monitor's epoll set or Node's own read), an application listening for 'error' gets the
// kernel's error as Node's read delivers it, never an 'end' the peer did not send; one that does
// not listen is never crashed by the monitor. Real connections between two network namespaces:
// host b's cable is pulled (keepalive ends the connection with ETIMEDOUT) or its peer resets.
import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { constants as osConstants } from 'node:os';
import { LivenessMonitor, setKeepAlive, type DeadReason } from '../../src';
import type { TestNetwork } from '../../src/testing';
import { sleep } from '../helpers';
import { Concurrent } from './concurrent';
import { requireTestHosts } from './gate';

/** Dropped 1 s + 2 × 1 s after the peer was last heard. */
const KEEPALIVE = { idle: 1000, interval: 1000, count: 2 } as const;
/**
 * Waits are bounded by the kernel's rule plus this: the keepalive bound (3 s) itself is checked
 * in keepalive-bounds.test.ts; here only who gets which error matters, so the margin is wide.
 */
const LIMIT = 3000 + 3000;

type Fault = 'blackhole' | 'reset';
const CODE: Record<Fault, string> = { blackhole: 'ETIMEDOUT', reset: 'ECONNRESET' };
const REASON: Record<Fault, DeadReason> = { blackhole: 'timeout', reset: 'reset' };

/** What the application saw on its socket, and what the monitor said. */
interface Seen {
  errors: NodeJS.ErrnoException[];
  ends: number;
  closed: boolean;
  dead: Array<{ reason: DeadReason; error: Error | null }>;
}

function observe(socket: net.Socket, monitor: LivenessMonitor, listen: boolean): Seen {
  const seen: Seen = { errors: [], ends: 0, closed: false, dead: [] };
  if (listen) socket.on('error', (err: NodeJS.ErrnoException) => seen.errors.push(err));
  socket.on('end', () => seen.ends++);
  socket.on('close', () => { seen.closed = true; });
  monitor.on('dead', (s, reason, error) => { if (s === socket) seen.dead.push({ reason, error }); });
  return seen;
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** The error exactly as Node's read raises it (lib/internal/errors.js errnoException). */
function assertNodeReadError(err: NodeJS.ErrnoException | undefined, code: string): void {
  assert.ok(err, `the application got an 'error' (${code})`);
  assert.equal(err.code, code);
  assert.equal(err.errno, -osConstants.errno[code as keyof typeof osConstants.errno]);
  assert.equal(err.syscall, 'read');
  assert.equal(err.message, `read ${code}`);
}

const concurrent = new Concurrent();
const withNetwork = (fn: (network: TestNetwork) => Promise<void>) => concurrent.withNetwork(fn);
const monitor = (destroy: boolean) => concurrent.monitor({ keepAlive: KEEPALIVE, destroy });

/** Connects from host a to a sink in host b: flowing (read by the application) or paused. */
async function connection(network: TestNetwork, paused: boolean) {
  const peer = await network.b.serve({ behavior: 'sink' });
  const socket = await network.a.connect(peer.port, { pauseOnConnect: paused });
  const remote = await peer.accepted(socket);
  if (!paused) socket.on('data', () => {});
  return { socket, remote };
}

async function doFault(network: TestNetwork, fault: Fault, remote: { reset(): Promise<void> }): Promise<void> {
  if (fault === 'blackhole') await network.b.blackhole();
  else await remote.reset();
}

const transparent = (title: string, run: () => Promise<void>) => concurrent.it(title, run);

describe('the monitor is invisible until it ends a dead connection (network namespaces)', function () {
  this.timeout(30_000);

  before(function () {
    requireTestHosts(this);
  });
  before(() => concurrent.start());
  after(() => concurrent.settled());

  for (const fault of ['blackhole', 'reset'] as const) {
    for (const destroy of [true, false]) {
      transparent(`a socket the application reads gets Node's own 'read ${CODE[fault]}' when its peer ${fault === 'blackhole' ? 'host vanishes' : 'resets'} (destroy: ${destroy}), and no 'end'`, () => withNetwork(async (network) => {
        const m = monitor(destroy);
        const { socket, remote } = await connection(network, false);
        // The control: the same settings without a monitor, as the application has it without us.
        const control = fault === 'blackhole' ? await connection(network, false) : null;
        const controlErrors: NodeJS.ErrnoException[] = [];
        control?.socket.on('error', (err: NodeJS.ErrnoException) => controlErrors.push(err));
        if (control) setKeepAlive(control.socket, KEEPALIVE);
        const seen = observe(socket, m, true);
        m.add(socket);
        await doFault(network, fault, remote);
        await until(() => seen.closed && seen.dead.length > 0, LIMIT, 'the socket to close and be reported');
        assert.equal(seen.ends, 0, "no 'end': the peer sent no FIN");
        assert.equal(seen.errors.length, 1);
        assertNodeReadError(seen.errors[0], CODE[fault]);
        assert.deepEqual(seen.dead.map((d) => d.reason), [REASON[fault]]);
        assert.equal(seen.dead[0].error, seen.errors[0], "'dead' carries the very error the application got");
        if (control) {
          await until(() => control.socket.destroyed, LIMIT, 'the control socket to die');
          assert.equal(controlErrors.length, 1, 'without a monitor Node raises one error');
          const shape = (e: NodeJS.ErrnoException) => ({ message: e.message, code: e.code, errno: e.errno, syscall: e.syscall });
          assert.deepEqual(shape(seen.errors[0]), shape(controlErrors[0]), 'the same error as without a monitor');
        }
      }));

      transparent(`a paused socket (pauseOnConnect) gets 'read ${CODE[fault]}' when its peer ${fault === 'blackhole' ? 'host vanishes' : 'resets'} (destroy: ${destroy}), and no 'end'`, () => withNetwork(async (network) => {
        const m = monitor(destroy);
        const { socket, remote } = await connection(network, true);
        const seen = observe(socket, m, true);
        m.add(socket);
        await doFault(network, fault, remote);
        await until(() => seen.dead.length > 0, LIMIT, "the monitor's report");
        assert.deepEqual(seen.dead.map((d) => d.reason), [REASON[fault]]);
        if (!destroy) {
          // Left open, as asked. Node is not reading it, so nothing reached it yet; the taken
          // error is what its next read delivers, not an end of stream.
          await sleep(50);
          assert.equal(socket.destroyed, false, 'destroy: false leaves it open');
          assert.deepEqual(seen.errors, []);
          socket.resume();
        }
        await until(() => seen.closed, LIMIT, 'the socket to close');
        assert.equal(seen.ends, 0, "no 'end': the peer sent no FIN");
        assert.equal(seen.errors.length, 1);
        assertNodeReadError(seen.errors[0], CODE[fault]);
        assert.equal(seen.dead[0].error, seen.errors[0], "'dead' carries the very error the application got");
      }));
    }
  }

  transparent("a socket without an 'error' listener is never crashed by the monitor: the death is reported and the socket closed", () => withNetwork(async (network) => {
    const m = monitor(true);
    const { socket, remote } = await connection(network, true);
    const seen = observe(socket, m, false);
    const uncaught: Error[] = [];
    const onUncaught = (err: Error) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      m.add(socket);
      await remote.reset();
      await until(() => seen.closed && seen.dead.length > 0, LIMIT, 'the report and the close');
      await sleep(50); // an 'error' would be emitted on the next tick after close
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    assert.deepEqual(uncaught, []);
    assert.deepEqual(seen.dead.map((d) => [d.reason, (d.error as NodeJS.ErrnoException).code]), [['reset', 'ECONNRESET']]);
    assert.equal(seen.ends, 0);
  }));

  transparent("a FIN stays a FIN: a socket the application reads gets its 'end', and the monitor reports peer-closed", () => withNetwork(async (network) => {
    const m = monitor(true);
    const { socket, remote } = await connection(network, false);
    const seen = observe(socket, m, true);
    m.add(socket);
    await remote.end();
    await until(() => seen.closed && seen.dead.length > 0, LIMIT, 'the report and the close');
    assert.equal(seen.ends, 1, "the application got its 'end'");
    assert.deepEqual(seen.errors, []);
    assert.deepEqual(seen.dead, [{ reason: 'peer-closed', error: null }]);
  }));
});
