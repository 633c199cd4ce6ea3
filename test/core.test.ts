import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import {
  constants, getKeepAlive, getOption, peek, probe, readiness, setKeepAlive, setOption, supported,
  takeSocketError, tcpInfo, waitFor,
} from '../src';
import { native } from '../src/binding';
import { currentFd } from '../src/target';
import { decodeTcpInfo } from '../src/tcp-info';
import { cleanup, listen, pair, pausedPair, sleep, track, until } from './helpers';

/** ss prints timers as e.g. 1min9sec, 6.996ms (6 s 996 ms), 11min, 250ms. */
function ssSeconds(text: string): number {
  const m = /^(?:(\d+)min)?(?:(\d+)(?:sec|\.))?(?:(\d+)ms)?$/.exec(text);
  assert.ok(m, `unreadable ss timer ${text}`);
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0) + Number(m[3] ?? 0) / 1000;
}

afterEach(cleanup);

describe('keepalive tuning', () => {
  it('holds in the kernel what was asked, with idle and interval rounded up to whole seconds', async () => {
    const { client } = await pair();
    setKeepAlive(client, { idle: 1500, interval: 1000, count: 3, userTimeout: 4321 });
    assert.deepEqual(getKeepAlive(client), { enable: true, idle: 2000, interval: 1000, count: 3, userTimeout: 4321 });
    // Read back through plain getsockopt too, not only through getKeepAlive.
    assert.equal(getOption(client, constants.IPPROTO_TCP, constants.TCP_KEEPIDLE), 2);
    assert.equal(getOption(client, constants.IPPROTO_TCP, constants.TCP_KEEPINTVL), 1);
    assert.equal(getOption(client, constants.IPPROTO_TCP, constants.TCP_KEEPCNT), 3);
    assert.equal(getOption(client, constants.IPPROTO_TCP, constants.TCP_USER_TIMEOUT), 4321);
    assert.equal(getOption(client, constants.SOL_SOCKET, constants.SO_KEEPALIVE), 1);
  });

  it('shows as a running keepalive timer in ss at the idle time asked', async () => {
    const { client } = await pair();
    setKeepAlive(client, { idle: 7000 });
    const port = client.localPort!;
    const out = execFileSync('ss', ['-tnoH', 'state', 'established', `sport = :${port}`], { encoding: 'utf8' });
    const m = /timer:\(keepalive,([^,]+),/.exec(out);
    assert.ok(m, `no keepalive timer in: ${out}`);
    const secs = ssSeconds(m[1]);
    assert.ok(secs > 5 && secs <= 7, `timer ${m[0]}`);
  });

  it('leaves omitted fields as they are and turns probes off with enable: false', async () => {
    const { client } = await pair();
    setKeepAlive(client, { idle: 10_000, interval: 5000, count: 4 });
    setKeepAlive(client, { interval: 3000 });
    assert.deepEqual(getKeepAlive(client), { enable: true, idle: 10_000, interval: 3000, count: 4, userTimeout: 0 });
    setKeepAlive(client, { enable: false });
    assert.equal(getKeepAlive(client).enable, false);
    assert.equal(getKeepAlive(client).idle, 10_000);
  });

  it('refuses bad input before the first syscall, so nothing is half-applied', async () => {
    const { client } = await pair();
    const before = getKeepAlive(client);
    assert.equal(before.enable, false);
    const cases: Array<[object, string, string]> = [
      [{ idle: 2000, count: 0 }, 'ERR_OUT_OF_RANGE', 'options.count'],
      [{ idle: 2000, count: 128 }, 'ERR_OUT_OF_RANGE', 'options.count'],
      [{ idle: 2000, interval: 32_768_000 }, 'ERR_OUT_OF_RANGE', 'options.interval'],
      [{ idle: 0 }, 'ERR_OUT_OF_RANGE', 'options.idle'],
      [{ idle: NaN }, 'ERR_OUT_OF_RANGE', 'options.idle'],
      [{ idle: '5' }, 'ERR_INVALID_ARG_TYPE', 'options.idle'],
      [{ interval: 1000, userTimeout: -1 }, 'ERR_OUT_OF_RANGE', 'options.userTimeout'],
      [{ interval: 1000, userTimeout: 2 ** 31 }, 'ERR_OUT_OF_RANGE', 'options.userTimeout'],
      [{ count: 2.5 }, 'ERR_OUT_OF_RANGE', 'options.count'],
      [{ idle: 2000, enable: 'yes' }, 'ERR_INVALID_ARG_TYPE', 'options.enable'],
    ];
    for (const [options, code, name] of cases) {
      assert.throws(() => setKeepAlive(client, options as never), (err: NodeJS.ErrnoException) => {
        assert.equal(err.code, code, JSON.stringify(options));
        assert.ok(err.message.includes(`"${name}"`), err.message);
        assert.ok(err instanceof (code === 'ERR_OUT_OF_RANGE' ? RangeError : TypeError));
        return true;
      });
    }
    assert.throws(() => setKeepAlive(client, null as never), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.deepEqual(getKeepAlive(client), before);
  });

  it('accepts 32767 s and rounds 32766.5 s up to it; rejects anything that rounds past it', async () => {
    const { client } = await pair();
    setKeepAlive(client, { idle: 32_766_500, interval: 32_767_000 });
    assert.equal(getKeepAlive(client).idle, 32_767_000);
    assert.throws(() => setKeepAlive(client, { idle: 32_767_001 }), /<= 32767000/);
  });

  it('tunes a whole server once: accepted connections inherit all five options from the listener', async () => {
    const server = await listen();
    setKeepAlive(server, { idle: 3000, interval: 2000, count: 5, userTimeout: 7000 });
    assert.deepEqual(getKeepAlive(server), { enable: true, idle: 3000, interval: 2000, count: 5, userTimeout: 7000 });
    const { peer, client } = await pair(server);
    assert.deepEqual(getKeepAlive(peer), { enable: true, idle: 3000, interval: 2000, count: 5, userTimeout: 7000 });
    assert.equal(getKeepAlive(client).enable, false); // the dialling side is untouched
  });

  it('applies the options once a socket that is still connecting has connected', async () => {
    const server = await listen();
    const client = track(new net.Socket());
    setKeepAlive(client, { idle: 4000, count: 2 }); // no fd yet
    client.connect(server.address() as net.AddressInfo);
    await once(client, 'connect');
    assert.deepEqual(getKeepAlive(client), { enable: true, idle: 4000, interval: getKeepAlive(client).interval, count: 2, userTimeout: 0 });
  });

  it('several calls on a socket still connecting merge field by field into one setting, applied once on connect', async () => {
    const server = await listen();
    const client = track(new net.Socket());
    const listeners = client.listenerCount('connect');
    setKeepAlive(client, { idle: 4000, count: 2 }); // no fd yet
    setKeepAlive(client, { interval: 3000, count: 5 }); // count overrides, idle stays
    setKeepAlive(client, { userTimeout: 9000 });
    assert.equal(client.listenerCount('connect'), listeners + 1, 'one pending setting, not a listener per call');
    client.connect(server.address() as net.AddressInfo);
    await once(client, 'connect');
    assert.equal(client.listenerCount('connect'), listeners);
    // Read back through plain getsockopt: every field from the call that last named it.
    assert.equal(getOption(client, constants.IPPROTO_TCP, constants.TCP_KEEPIDLE), 4);
    assert.equal(getOption(client, constants.IPPROTO_TCP, constants.TCP_KEEPINTVL), 3);
    assert.equal(getOption(client, constants.IPPROTO_TCP, constants.TCP_KEEPCNT), 5);
    assert.equal(getOption(client, constants.IPPROTO_TCP, constants.TCP_USER_TIMEOUT), 9000);
    assert.equal(getOption(client, constants.SOL_SOCKET, constants.SO_KEEPALIVE), 1);
  });

  it('works on a TLS socket', async () => {
    const { client } = await pair();
    const secure = track(new tls.TLSSocket(client));
    setKeepAlive(secure, { idle: 6000 });
    assert.equal(getKeepAlive(client).idle, 6000);
  });

  it('rejects a destroyed socket and a server that is not listening with clear errors', async () => {
    const { client } = await pair();
    client.destroy();
    assert.throws(() => setKeepAlive(client, { idle: 1000 }), { code: 'ERR_SOCKET_CLOSED' });
    assert.throws(() => getKeepAlive(client), { code: 'ERR_SOCKET_CLOSED' });
    assert.throws(() => takeSocketError(client), { code: 'ERR_SOCKET_CLOSED' });
    assert.throws(() => getKeepAlive(net.createServer()), { code: 'ERR_SERVER_NOT_RUNNING' });
    assert.throws(() => getKeepAlive({} as never), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => getKeepAlive(-1), { code: 'ERR_OUT_OF_RANGE' });
  });

  it('reports system errors like Node: code, negative errno, syscall and the option', () => {
    const fd = fs.openSync(__filename, 'r');
    try {
      assert.throws(() => setKeepAlive(fd, { idle: 1000 }), (err: NodeJS.ErrnoException & { option?: string }) => {
        assert.equal(err.code, 'ENOTSOCK');
        assert.equal(err.errno, -os.constants.errno.ENOTSOCK);
        assert.equal(err.syscall, 'setsockopt');
        assert.equal(err.option, 'TCP_KEEPIDLE');
        assert.equal(err.message, 'ENOTSOCK: socket operation on non-socket, setsockopt TCP_KEEPIDLE');
        return true;
      });
      assert.throws(() => getKeepAlive(fd), { code: 'ENOTSOCK', syscall: 'getsockopt', option: 'TCP_KEEPIDLE' });
    } finally {
      fs.closeSync(fd);
    }
  });

  it('refuses a Unix socket without touching SO_KEEPALIVE on it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-'));
    const server = await new Promise<net.Server>((resolve) => {
      const s = track(net.createServer()).listen(path.join(dir, 's'), () => resolve(s));
    });
    const client = track(net.connect(path.join(dir, 's')));
    await once(client, 'connect');
    for (const options of [{ idle: 1000 }, {}]) {
      assert.throws(() => setKeepAlive(client, options), (err: NodeJS.ErrnoException) =>
        ['ENOTSUP', 'EOPNOTSUPP', 'ENOPROTOOPT'].includes(err.code!));
    }
    assert.equal(getOption(client, constants.SOL_SOCKET, constants.SO_KEEPALIVE), 0);
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('the pending socket error', () => {
  it('a peer reset gives ECONNRESET once, then null: reading clears it', async () => {
    const { local: client, remote } = await pausedPair();
    remote.resetAndDestroy();
    await until(() => readiness(client).error, 3000, 'POLLERR');
    const err = takeSocketError(client);
    assert.ok(err);
    assert.equal(err.code, 'ECONNRESET');
    assert.equal(err.errno, -os.constants.errno.ECONNRESET);
    assert.equal(err.syscall, 'getsockopt');
    assert.equal(takeSocketError(client), null);
  });

  it('a healthy socket has none', async () => {
    const { client } = await pair();
    assert.equal(takeSocketError(client), null);
  });
});

describe('readiness', () => {
  it('a peer FIN on a paused socket shows as peerClosed, CLOSE_WAIT, peek eof and probe peer-closed', async () => {
    const { local: client, remote } = await pausedPair();
    assert.deepEqual(readiness(client), {
      readable: false, writable: true, peerClosed: false, hangup: false, error: false, invalid: false,
    });
    remote.end();
    await until(() => readiness(client).peerClosed, 3000, 'POLLRDHUP');
    const r = readiness(client);
    assert.equal(r.readable, true);
    assert.equal(r.error, false);
    assert.equal(tcpInfo(client).state, 'CLOSE_WAIT');
    assert.equal(peek(client), 'eof');
    assert.equal(probe(client).state, 'peer-closed');
  });

  it('peek sees data without consuming it', async () => {
    const { local: client, remote } = await pausedPair();
    assert.equal(peek(client), 'empty');
    remote.write('hello');
    await until(() => readiness(client).readable);
    assert.equal(peek(client), 'data');
    assert.equal(peek(client), 'data');
    client.resume();
    const [chunk] = await once(client, 'data');
    assert.equal(String(chunk), 'hello');
  });

  it('the array form answers for every target, in order, and marks targets without an fd invalid', async () => {
    const a = (await pausedPair()).local;
    const b = await pausedPair();
    b.remote.write('x');
    await until(() => readiness(b.local).readable);
    const gone = (await pair()).client;
    gone.destroy();
    const rs = readiness([a, b.local, gone, a]);
    assert.equal(rs.length, 4);
    assert.deepEqual(rs.map((r) => r.readable), [false, true, false, false]);
    assert.deepEqual(rs.map((r) => r.invalid), [false, false, true, false]);
    assert.deepEqual(readiness([]), []);
    assert.equal(readiness(gone).invalid, true);
  });

  it('a closed fd number is invalid (POLLNVAL)', () => {
    const fd = fs.openSync(__filename, 'r');
    fs.closeSync(fd);
    assert.equal(readiness(fd).invalid, true);
  });

  it('a listener is readable when a connection waits to be accepted', async () => {
    const server = await listen(net.createServer({ pauseOnConnect: true }));
    server.on('connection', () => {});
    assert.equal(tcpInfo(server).state, 'LISTEN');
  });
});

describe('waitFor', () => {
  it('resolves when data arrives, while the event loop keeps running', async () => {
    const { local: client, remote } = await pausedPair();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    setTimeout(() => remote.write('ping'), 100);
    const started = Date.now();
    const r = await waitFor(client, { readable: true });
    clearInterval(timer);
    assert.equal(r.readable, true);
    assert.ok(Date.now() - started >= 90);
    assert.ok(ticks >= 5, `the loop ran ${ticks} timer ticks during the wait`);
  });

  it('times out with the readiness then, like poll() returning 0', async () => {
    const { local: client } = await pausedPair();
    const started = Date.now();
    const r = await waitFor(client, { timeout: 80 });
    assert.equal(r.readable, false);
    assert.ok(Date.now() - started >= 75);
  });

  it('wakes on the peer FIN, and at once when the FIN is already there', async () => {
    const { local: client, remote } = await pausedPair();
    const fin = waitFor(client, { readable: true });
    remote.end();
    assert.equal((await fin).peerClosed, true);
    const again = waitFor(client, { writable: false, timeout: 5000 });
    assert.equal((await again).peerClosed, true);
  });

  it('wakes on a peer reset with the error flagged', async () => {
    const { local: client, remote } = await pausedPair();
    const rst = waitFor(client, { readable: true, timeout: 5000 });
    remote.resetAndDestroy();
    const r = await rst;
    assert.equal(r.error, true);
    assert.equal(r.hangup, true);
  });

  it('serves several waits on one socket and an abort rejects only its own', async () => {
    const { local: client, remote: peer } = await pausedPair();
    const ac = new AbortController();
    const aborted = waitFor(client, { signal: ac.signal });
    const kept = waitFor(client, { readable: true, timeout: 5000 });
    const writable = await waitFor(client, { writable: true });
    assert.equal(writable.writable, true);
    ac.abort();
    await assert.rejects(aborted, { name: 'AbortError' });
    peer.write('x');
    assert.equal((await kept).readable, true);
    await assert.rejects(waitFor(client, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  it('settles as invalid when the socket is destroyed during the wait', async () => {
    const { local: client } = await pausedPair();
    const w = waitFor(client);
    setTimeout(() => client.destroy(), 20);
    assert.equal((await w).invalid, true);
  });

  it('a wait on an fd number whose file closed never captures the socket that reuses the number', async () => {
    const a = await pausedPair();
    const fdA = (a.local as unknown as { _handle: { fd: number } })._handle.fd;
    const stale = waitFor(fdA, { readable: true, timeout: 10_000 }); // a raw fd: closing it is not seen
    const server = await listen(net.createServer({ pauseOnConnect: true }));
    const accepted = once(server, 'connection') as Promise<[net.Socket]>;
    a.local.destroy();
    const b = track(net.connect((server.address() as net.AddressInfo).port, '127.0.0.1'));
    await once(b, 'connect');
    assert.equal((b as unknown as { _handle: { fd: number } })._handle.fd, fdA, 'the test needs the number reused');
    track((await accepted)[0]);
    // B's wait finds the old registration gone (its file closed): the old wait ends as invalid...
    const onB = waitFor(b, { writable: true, timeout: 5000 });
    assert.equal((await stale).invalid, true);
    // ...and B's own wait is registered for B's file and answers for it.
    const r = await onB;
    assert.equal(r.writable, true);
    assert.equal(r.invalid, false);
  });

  it('rejects bad options', async () => {
    const { client } = await pair();
    await assert.rejects(waitFor(client, { timeout: -1 }), { code: 'ERR_OUT_OF_RANGE' });
    await assert.rejects(waitFor(client, { readable: 1 as never }), { code: 'ERR_INVALID_ARG_TYPE' });
    await assert.rejects(waitFor(client, { signal: {} as never }), { code: 'ERR_INVALID_ARG_TYPE' });
  });
});

describe('probe', () => {
  it('an RST on a paused socket: probe leaves the error for Node, which then emits ECONNRESET', async () => {
    const { local: client, remote } = await pausedPair();
    remote.resetAndDestroy();
    await until(() => readiness(client).error, 3000, 'POLLERR');
    const p = probe(client);
    assert.equal(p.state, 'error');
    assert.equal(p.error, null);
    assert.equal(p.tcp?.state, 'CLOSE');
    assert.equal(probe(client).state, 'error'); // still pending
    client.resume();
    const [err] = await once(client, 'error');
    assert.equal((err as NodeJS.ErrnoException).code, 'ECONNRESET');
  });

  it('with takeError it names the reset, and Node then sees only an end of stream', async () => {
    const { local: client, remote } = await pausedPair();
    remote.resetAndDestroy();
    await until(() => readiness(client).error, 3000, 'POLLERR');
    const p = probe(client, { takeError: true });
    assert.equal(p.state, 'reset');
    assert.equal(p.error?.code, 'ECONNRESET');
    let errored = false;
    client.on('error', () => { errored = true; });
    client.resume();
    await once(client, 'end');
    assert.equal(errored, false);
  });

  it('a live connection is open, a destroyed one closed', async () => {
    const { client } = await pair();
    const p = probe(client);
    assert.equal(p.state, 'open');
    assert.equal(p.tcp?.state, 'ESTABLISHED');
    client.destroy();
    assert.equal(probe(client).state, 'closed');
  });
});

describe('tcpInfo', () => {
  it('reports the connection as the kernel sees it, in readable names and stated units', async () => {
    const { client, peer } = await pair();
    peer.on('data', () => {});
    client.write(Buffer.alloc(100_000));
    await until(() => tcpInfo(client).unacked === 0 && (tcpInfo(client).bytesAcked ?? 0) >= 100_000);
    await sleep(30);
    const t = tcpInfo(client);
    assert.equal(t.state, 'ESTABLISHED');
    assert.ok(t.rtt > 0 && t.rtt < 100, `rtt ${t.rtt} ms`);
    assert.ok(t.rto >= 200, `rto ${t.rto} ms`);
    assert.ok(t.bytesAcked! >= 100_000);
    assert.ok(t.bytesSent! >= 100_000);
    assert.ok(t.lastDataSent >= 25 && t.lastDataSent < 2000, `lastDataSent ${t.lastDataSent}`);
    assert.ok(t.sndMss > 0 && t.pmtu === 65535, `pmtu ${t.pmtu}`);
    assert.equal(t.options.timestamps, true);
    assert.equal(tcpInfo(peer).bytesReceived! >= 100_000, true);
    assert.ok(tcpInfo(peer).lastDataRecv >= 25);
  });
});

describe('a short TCP_INFO', () => {
  it('never reads as zeros: the fields the kernel did not fill are undefined', async () => {
    const { client } = await pair();
    const fd = currentFd(client);
    const full = tcpInfo(client);
    // The kernel copies only as much as it is given and says how much: ask for 4 bytes, as
    // qemu-user fills, and for the 104 of the original struct.
    for (const size of [4, 104]) {
      const bytes = new Uint8Array(size + 16).fill(0xff); // never zeros, never a stale earlier read
      const length = native.tcpInfo(fd, bytes.subarray(0, size));
      assert.equal(length, size);
      const short = decodeTcpInfo(bytes, length) as unknown as Record<string, unknown>;
      const filled = size === 4 ? ['state', 'caState', 'retransmits', 'probes']
        : Object.keys(full).slice(0, Object.keys(full).indexOf('totalRetrans') + 1);
      for (const [key, value] of Object.entries(full)) {
        if (filled.includes(key)) {
          if (!['lastDataSent', 'lastDataRecv', 'lastAckRecv', 'rcvSpace'].includes(key)) {
            assert.deepEqual(short[key], value, `${key} from ${size} bytes`); // clocks move between reads
          } else assert.equal(typeof short[key], 'number', key);
        } else {
          assert.equal(short[key], undefined, `${key} is past the ${size} bytes the kernel filled`);
        }
      }
    }
    assert.equal(full.state, 'ESTABLISHED');
    assert.equal(typeof full.totalRtoTime, 'number', 'this kernel fills the whole vendored struct');
  });
});

describe('the integer escape hatch and platform support', () => {
  it('sets and reads back an integer option', async () => {
    const { client } = await pair();
    setOption(client, constants.IPPROTO_TCP, constants.TCP_NODELAY, 1);
    assert.equal(getOption(client, constants.IPPROTO_TCP, constants.TCP_NODELAY), 1);
    assert.throws(() => setOption(client, constants.IPPROTO_TCP, 9999, 1), { code: 'ENOPROTOOPT', syscall: 'setsockopt' });
    assert.throws(() => setOption(client, -1, 1, 1), { code: 'ERR_OUT_OF_RANGE' });
  });

  it('says Linux supports everything', () => {
    assert.equal(supported.platform, 'linux');
    assert.ok(Object.entries(supported).every(([k, v]) => k === 'platform' || v === true));
  });
});
