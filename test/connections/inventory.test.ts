// The connection inventory on a real process holding a known mix of real connections: what
// `tcp-liveness inspect --json <pid>` reports from outside and what the process's own
// connections() reports from inside, entry by entry and in the summary.
import { strict as assert } from 'node:assert';
import { type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createTestNetwork, type TestNetwork } from 'tcp-liveness/testing';
import { requireTestHosts } from '../netns/gate';
import { sleep } from '../helpers';
import { inspect, type Inventory } from './run';

/** ms: short enough for a test, far above the fixture's own setup delays. */
const CLOSE_WAIT = 500;
const STALLED = 1000;

interface Made {
  listening: number; closeWait: number[]; plain: number[]; tuned: number[]; blackholed: number;
  keepAlive: { idle: number; interval: number; count: number };
}

describe('the connection inventory of a process holding a known mix', function () {
  this.timeout(60_000);
  let network: TestNetwork | undefined;
  let child: ChildProcess | undefined;
  let lines: AsyncIterator<string>;
  let made: Made;
  let outside: Inventory;
  let inside: Inventory;
  let table: string;

  async function next(key: string): Promise<Record<string, unknown>> {
    for (;;) {
      const { value, done } = await lines.next();
      if (done) throw new Error(`the fixture ended before saying ${key}`);
      const msg = JSON.parse(value);
      if (msg.error) throw new Error(`fixture: ${msg.error}`);
      if (key in msg) return msg;
    }
  }

  function command(line: string): void {
    child!.stdin!.write(`${line}\n`);
  }

  before(async function () {
    requireTestHosts(this);
    network = await createTestNetwork({ prefix: 'tlinv' });
    const { a, b } = network;
    const sink = await b.serve({ behavior: 'sink' });
    // The process lives in host a, its peers in host b: inspecting it from here means entering its namespace.
    child = a.spawn(process.execPath, [join(__dirname, 'fixtures', 'hold-mix.js'), b.address, String(sink.port)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    made = (await next('listening')) as unknown as Made;

    // TIME_WAIT on its listening port: b dials in, the fixture closes first, b's echo peer
    // answers the FIN with its own, and the fixture's end waits out TIME_WAIT.
    await b.dial(made.listening, { host: a.address });
    await b.dial(made.listening, { host: a.address });
    await sleep(100);
    command('close-accepted');
    assert.equal((await next('closedAccepted')).closedAccepted, 2);

    // CLOSE_WAIT: the peers close, the fixture never does.
    for (const port of made.closeWait) await (await sink.accepted(port)).end();
    await sleep(CLOSE_WAIT + 300);

    // Data to a host that vanished: it stays unacknowledged, the kernel retransmits.
    await b.blackhole();
    command('write');
    await next('written');
    await sleep(STALLED + 1000);

    const run = await inspect(['inspect', '--json', '--close-wait', String(CLOSE_WAIT), '--stalled', String(STALLED), String(child.pid)]);
    assert.equal(run.code, 0, run.stderr);
    outside = JSON.parse(run.stdout);
    command(`inventory ${CLOSE_WAIT} ${STALLED}`);
    inside = (await next('inventory')).inventory as Inventory;
    const shown = await inspect(['inspect', '--close-wait', String(CLOSE_WAIT), '--stalled', String(STALLED), String(child.pid)]);
    assert.equal(shown.code, 0, shown.stderr);
    table = shown.stdout;
    if (process.env.TL_SHOW_TABLE) console.log(table);
  });

  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    await network?.close();
  });

  const views = () => [['inspect --json', outside], ["the process's own connections()", inside]] as const;
  const byPort = (inv: Inventory, port: number) => inv.connections.filter((c) => c.localPort === port && c.fd !== null);

  it('counts every state and verdict exactly', () => {
    for (const [view, inv] of views()) {
      assert.deepEqual(inv.summary.states, { ESTABLISHED: 5, CLOSE_WAIT: 3, TIME_WAIT: 2 }, view);
      assert.deepEqual(inv.summary.verdicts, { dead: 0, 'close-wait-leak': 3, stalled: 1, unguarded: 2, ok: 4 }, view);
      assert.equal(inv.summary.timeWait, 2, view);
      assert.equal(inv.summary.listening, 1, view);
      assert.equal(inv.listeners[0].localPort, made.listening, view);
      assert.equal(inv.summary.fdLimit, 20_000, view);
      assert.equal(inv.connections.length, 10, view);
    }
    // Its fd table has not changed since: both read it whole.
    const fds = readdirSync(`/proc/${child!.pid}/fd`).length;
    assert.equal(outside.summary.fds, fds);
    assert.equal(inside.summary.fds, fds);
  });

  it('lists the worst first', () => {
    const order = ['dead', 'close-wait-leak', 'stalled', 'unguarded', 'ok'];
    for (const [view, inv] of views()) {
      const ranks = inv.connections.map((c) => order.indexOf(c.verdict));
      assert.deepEqual(ranks, [...ranks].sort((x, y) => x - y), view);
    }
  });

  it('reports connections whose peer closed and that were never closed as close-wait leaks', () => {
    for (const [view, inv] of views()) {
      for (const port of made.closeWait) {
        const [c] = byPort(inv, port);
        assert.equal(c.state, 'CLOSE_WAIT', view);
        assert.equal(c.verdict, 'close-wait-leak', view);
        assert.equal(c.timer.kind, 'none', view);
        assert.ok(c.lastAckReceived! >= CLOSE_WAIT, `${view}: peer closed ${c.lastAckReceived} ms ago`);
      }
    }
  });

  it('reports established connections without keepalive as unguarded', () => {
    for (const [view, inv] of views()) {
      for (const port of made.plain) {
        const [c] = byPort(inv, port);
        assert.equal(c.state, 'ESTABLISHED', view);
        assert.equal(c.verdict, 'unguarded', view);
        assert.equal(c.timer.kind, 'none', view);
      }
    }
    for (const port of made.plain) assert.deepEqual(byPort(inside, port)[0].keepAlive?.enable, false);
  });

  it('shows the keepalive timer of tuned connections, due when their settings say', () => {
    for (const [view, inv] of views()) {
      for (const port of made.tuned) {
        const [c] = byPort(inv, port);
        assert.equal(c.state, 'ESTABLISHED', view);
        assert.equal(c.verdict, 'ok', view);
        assert.equal(c.timer.kind, 'keepalive', view);
        assert.equal(c.timer.count, 0, view);
        // Linux arms the timer for `idle` after the last thing heard (keepalive_time_elapsed);
        // both numbers come from the same dump. A second covers jiffies and timer-wheel rounding.
        const heard = Math.min(c.lastAckReceived!, c.lastDataReceived!);
        const due = made.keepAlive.idle - heard;
        assert.ok(Math.abs(c.timer.expiresIn! - due) <= 1000, `${view}: expires in ${c.timer.expiresIn} ms, settings imply ${due}`);
      }
    }
    for (const port of made.tuned) {
      assert.deepEqual(byPort(inside, port)[0].keepAlive, { enable: true, ...made.keepAlive, userTimeout: 0 });
    }
  });

  it('reports unacknowledged data to a vanished host as stalled, with the retransmission timer', () => {
    for (const [view, inv] of views()) {
      const [c] = byPort(inv, made.blackholed);
      assert.equal(c.state, 'ESTABLISHED', view);
      assert.equal(c.verdict, 'stalled', view);
      assert.equal(c.timer.kind, 'retransmit', view);
      assert.ok(c.timer.count >= 1, `${view}: ${c.timer.count} retransmissions`);
      assert.equal(c.sendQueue, 1000, view);
    }
  });

  it('shows TIME_WAIT on its listening port, held by no fd', () => {
    for (const [view, inv] of views()) {
      const tw = inv.connections.filter((c) => c.state === 'TIME_WAIT');
      assert.equal(tw.length, 2, view);
      for (const c of tw) {
        assert.equal(c.localPort, made.listening, view);
        assert.equal(c.fd, null, view);
        assert.equal(c.timer.kind, 'time-wait', view);
        // TCP_TIMEWAIT_LEN is 60 s, and they began a few seconds ago.
        assert.ok(c.timer.expiresIn! > 40_000 && c.timer.expiresIn! <= 60_000, `${view}: ${c.timer.expiresIn}`);
        assert.equal(c.verdict, 'ok', view);
      }
    }
  });

  it('shows a person the summary first, then one row per connection, worst first', () => {
    const rows = table.split('\n');
    // The command line is cut to 80 characters: under a long Node path the fixture's name is cut.
    const command = `${process.execPath} ${join(__dirname, 'fixtures', 'hold-mix.js')} `.slice(0, 80).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(rows[0], new RegExp(`^pid ${child!.pid} \\(${command}.*\\) · 10 connections · fds \\d+ / 20000$`));
    assert.equal(rows[1], 'states    ESTABLISHED 5  TIME_WAIT 2  CLOSE_WAIT 3');
    assert.equal(rows[2], 'verdicts  close-wait-leak 3  stalled 1  unguarded 2  ok 4');
    assert.equal(rows[3], `listening 0.0.0.0:${made.listening} · TIME_WAIT on these ports: 2`);
    assert.match(rows[5], /^VERDICT\s+STATE\s+LOCAL\s+REMOTE\s+SEND-Q\s+RECV-Q\s+TIMER\s+SILENT\s+FD\s+REASON$/);
    const verdicts = rows.slice(6).filter(Boolean).map((r) => r.split(/\s+/)[0]);
    assert.deepEqual(verdicts, [...Array(3).fill('close-wait-leak'), 'stalled', 'unguarded', 'unguarded', ...Array(4).fill('ok')]);
  });

  it("names the process's own net.Socket and net.Server for each entry, from inside only", () => {
    for (const c of inside.connections) assert.equal(c.socket, c.fd !== null, `fd ${c.fd}`);
    assert.equal(inside.listeners[0].server, true);
    for (const c of outside.connections) assert.equal(c.socket, undefined);
  });

  it('reads the keepalive settings back from outside as the process itself does', () => {
    // From outside through a duplicate of each fd (pidfd_getfd): root may, as the owner may.
    for (const c of inside.connections) {
      const [seen] = outside.connections.filter((o) => o.fd === c.fd && o.localPort === c.localPort && o.remotePort === c.remotePort);
      assert.deepEqual(seen.keepAlive, c.keepAlive, `fd ${c.fd}`);
      assert.equal(c.keepAlive === null, c.fd === null, `fd ${c.fd}`);
    }
  });
});


