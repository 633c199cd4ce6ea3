// Waits interrupted by signals. A signal that lands while the event loop sleeps in epoll_wait,
// or while the addon is in poll() or recv(), makes the call fail with EINTR; the wait must
// carry on, neither waking early nor reporting an error, and resolve with the right readiness.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { LivenessMonitor, peek, readiness, waitFor } from '../../src';
import { cleanup, pausedPair, sleep } from '../helpers';

/**
 * SIGUSR2 every `everyMs`, sent two ways: by this process to itself (as the event loop turns)
 * and by a child process, which lands at any moment, also in the middle of a system call.
 */
async function signalStorm(everyMs: number): Promise<{ received: () => number; stop: () => Promise<void> }> {
  let received = 0;
  const onSignal = () => { received++; };
  process.on('SIGUSR2', onSignal);
  const self = setInterval(() => process.kill(process.pid, 'SIGUSR2'), everyMs);
  const sender: ChildProcess = spawn(process.execPath, ['-e', `
    const pid = ${process.pid};
    const nap = new Int32Array(new SharedArrayBuffer(4));
    for (;;) { try { process.kill(pid, 'SIGUSR2'); } catch { break; } Atomics.wait(nap, 0, 0, ${everyMs}); }
  `], { stdio: 'ignore' });
  await once(sender, 'spawn');
  return {
    received: () => received,
    async stop() {
      clearInterval(self);
      sender.kill('SIGKILL');
      await once(sender, 'exit');
      await sleep(20); // a last signal may still be on its way
      process.off('SIGUSR2', onSignal);
    },
  };
}

describe('hardening: waits interrupted by signals (EINTR)', function () {
  afterEach(cleanup);

  it('a wait for data under a storm of signals resolves readable when the data comes, not before', async () => {
    const { local, remote } = await pausedPair();
    const storm = await signalStorm(1);
    try {
      const started = Date.now();
      const wait = waitFor(local, { readable: true, timeout: 10_000 });
      let settled = false;
      void wait.then(() => { settled = true; });
      await sleep(150);
      assert.equal(settled, false, 'the wait woke up before there was anything to read');
      const before = storm.received();
      remote.write('after the storm');
      const r = await wait;
      assert.equal(r.readable, true);
      assert.equal(r.error, false);
      assert.ok(Date.now() - started < 5000, 'resolved by the data, not by its timeout');
      assert.ok(before >= 20, `only ${before} signals arrived during the wait`);
    } finally {
      await storm.stop();
    }
  });

  it('a wait that times out under a storm of signals still waits the whole timeout, with nothing ready', async () => {
    const { local } = await pausedPair();
    const storm = await signalStorm(1);
    try {
      const started = Date.now();
      const r = await waitFor(local, { readable: true, timeout: 200 });
      const waited = Date.now() - started;
      assert.ok(waited >= 195, `woke after ${waited} ms`);
      assert.deepEqual(r, { readable: false, writable: true, peerClosed: false, hangup: false, error: false, invalid: false });
      assert.ok(storm.received() >= 20, `only ${storm.received()} signals arrived`);
    } finally {
      await storm.stop();
    }
  });

  it('a peer FIN and a reset during a storm of signals are reported as such', async () => {
    const fin = await pausedPair();
    const rst = await pausedPair();
    const storm = await signalStorm(1);
    try {
      const finWait = waitFor(fin.local, { readable: true, timeout: 10_000 });
      const rstWait = waitFor(rst.local, { readable: true, timeout: 10_000 });
      await sleep(50);
      fin.remote.end();
      rst.remote.resetAndDestroy();
      const [f, r] = await Promise.all([finWait, rstWait]);
      assert.equal(f.peerClosed, true);
      assert.equal(f.error, false);
      assert.equal(r.error, true);
      assert.equal(r.hangup, true);
    } finally {
      await storm.stop();
    }
  });

  it('readiness and peek called in a tight loop under a storm of signals never fail and never lie', async () => {
    const { local, remote } = await pausedPair();
    remote.write('x');
    await waitFor(local, { readable: true, timeout: 2000 });
    const storm = await signalStorm(1);
    try {
      const end = Date.now() + 200;
      let calls = 0;
      while (Date.now() < end) {
        for (let i = 0; i < 200; i++) {
          assert.equal(readiness([local, local])[1].readable, true);
          assert.equal(peek(local), 'data');
          calls++;
        }
        await new Promise((r) => setImmediate(r)); // let the self-sent signals be handled too
      }
      assert.ok(calls > 1000, `${calls} calls`);
      assert.ok(storm.received() >= 10, `only ${storm.received()} signals arrived`);
    } finally {
      await storm.stop();
    }
  });

  it('a monitor under a storm of signals reports no healthy socket dead, and still finds the dead one', async () => {
    const monitor = new LivenessMonitor({ heartbeat: { interval: 50, timeout: 100, send: (s) => s.write('?') } });
    const healthy = await pausedPair();
    healthy.remote.on('data', () => healthy.remote.write('!'));
    const doomed = await pausedPair();
    doomed.remote.on('data', () => {});
    monitor.add(healthy.local).add(doomed.local, { heartbeat: false });
    const deaths: string[] = [];
    monitor.on('dead', (socket, reason) => deaths.push(`${socket === doomed.local ? 'doomed' : 'healthy'} ${reason}`));
    const storm = await signalStorm(1);
    try {
      await sleep(500);
      assert.deepEqual(deaths, []);
      doomed.remote.end();
      await sleep(100);
      assert.deepEqual(deaths, ['doomed peer-closed']);
      assert.ok(storm.received() >= 50, `only ${storm.received()} signals arrived`);
      assert.ok(monitor.stats().heartbeats >= 3);
    } finally {
      await storm.stop();
      monitor.close();
    }
  });
});
