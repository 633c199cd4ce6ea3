// Bad input to every public core function: wrong types, NaN, infinities, fractions, negatives,
// values just past each kernel bound, and targets that are not TCP sockets at all (closed fds,
// files, pipes, Unix and UDP sockets, listeners, destroyed and unconnected sockets, look-alike
// objects). Each case names the exact error class and code a caller can rely on, or the
// documented result; setKeepAlive is also checked never to change a socket it refused.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import {
  constants, getKeepAlive, getOption, peek, probe, readiness, setKeepAlive, setOption, takeSocketError, tcpInfo,
  waitFor, type KeepAlive, type Readiness,
} from '../../src';
import { cleanup, udpSocketFd } from '../helpers';

// ---- what a call is expected to do ----

type Outcome =
  | { kind: 'arg'; type: typeof TypeError | typeof RangeError; code: string; name: string }
  | { kind: 'socket'; code: 'ERR_SOCKET_CLOSED' | 'ERR_SOCKET_NOT_CONNECTED' | 'ERR_SERVER_NOT_RUNNING' }
  | { kind: 'system'; code: string; syscall: string; option?: string }
  | { kind: 'result'; what: string; check: (value: unknown) => void };

const argType = (name = 'target'): Outcome => ({ kind: 'arg', type: TypeError, code: 'ERR_INVALID_ARG_TYPE', name });
const range = (name = 'target'): Outcome => ({ kind: 'arg', type: RangeError, code: 'ERR_OUT_OF_RANGE', name });
const socketErr = (code: 'ERR_SOCKET_CLOSED' | 'ERR_SOCKET_NOT_CONNECTED' | 'ERR_SERVER_NOT_RUNNING'): Outcome => ({ kind: 'socket', code });
const sys = (code: string, syscall: string, option?: string): Outcome => ({ kind: 'system', code, syscall, option });
const result = (what: string, check: (value: unknown) => void): Outcome => ({ kind: 'result', what, check });

function describeOutcome(o: Outcome): string {
  switch (o.kind) {
    case 'arg': return `${o.type.name} ${o.code} naming "${o.name}"`;
    case 'socket': return `Error ${o.code}`;
    case 'system': return `${o.code} from ${o.syscall}${o.option ? ` ${o.option}` : ''}`;
    default: return o.what;
  }
}

function checkError(err: unknown, o: Outcome): void {
  assert.ok(err instanceof Error, `not an Error: ${String(err)}`);
  const e = err as NodeJS.ErrnoException & { option?: string };
  switch (o.kind) {
    case 'arg':
      assert.equal(e.constructor, o.type, `${e.constructor.name}: ${e.message}`);
      assert.equal(e.code, o.code, e.message);
      assert.ok(e.message.includes(`"${o.name}"`), `the message should name "${o.name}": ${e.message}`);
      return;
    case 'socket':
      assert.equal(e.constructor, Error, e.message);
      assert.equal(e.code, o.code, e.message);
      return;
    case 'system': {
      assert.equal(e.constructor, Error, e.message);
      assert.equal(e.code, o.code, e.message);
      const errno = (os.constants.errno as Record<string, number>)[o.code];
      assert.equal(e.errno, -errno, `errno of ${e.message}`);
      assert.equal(e.syscall, o.syscall, e.message);
      if (o.option) assert.equal(e.option, o.option, e.message);
      assert.ok(e.message.startsWith(`${o.code}: `), e.message);
      return;
    }
    default:
      assert.fail(`expected ${o.what}, got ${e.constructor.name} ${e.code}: ${e.message}`);
  }
}

/** Runs a call (sync or a promise) and holds it to the outcome. */
async function expectOutcome(call: () => unknown, o: Outcome): Promise<void> {
  let value: unknown;
  try {
    value = call();
    if (value instanceof Promise) value = await value;
  } catch (err) {
    checkError(err, o);
    return;
  }
  if (o.kind !== 'result') assert.fail(`expected ${describeOutcome(o)}, got ${JSON.stringify(value)}`);
  o.check(value);
}

// ---- fixtures, made here and not tracked: the shared per-test cleanup must not close them ----

interface Fixtures {
  tcp: net.Socket; // a connection Node never reads from (paused at accept)
  remote: net.Socket;
  listener: net.Server;
  udp: dgram.Socket;
  unixServer: net.Server;
  unixClient: net.Socket;
  fifo: number;
  file: number;
  dir: string;
  close(): Promise<void>;
}

async function makeFixtures(): Promise<Fixtures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-bad-'));
  const listener = net.createServer({ pauseOnConnect: true });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const remote = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  await once(remote, 'connect');
  const [tcp] = await accepted;

  const udp = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));

  const unixServer = net.createServer({ pauseOnConnect: true }).listen(path.join(dir, 'sock'));
  await once(unixServer, 'listening');
  const unixClient = net.connect(path.join(dir, 'sock'));
  await once(unixClient, 'connect');

  // A real pipe (not libuv's socketpair "pipes"): a FIFO opened for both ends, never blocking.
  execFileSync('mkfifo', [path.join(dir, 'fifo')]);
  const fifo = fs.openSync(path.join(dir, 'fifo'), fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  const file = fs.openSync(__filename, 'r');

  return {
    tcp, remote, listener, udp, unixServer, unixClient, fifo, file, dir,
    async close() {
      tcp.destroy();
      remote.destroy();
      unixClient.destroy();
      udp.close();
      listener.close();
      unixServer.close();
      fs.closeSync(fifo);
      fs.closeSync(file);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An fd number that is closed right now: opened and closed in the same tick as its use. */
function justClosedFd(): number {
  const fd = fs.openSync('/dev/null', 'r');
  fs.closeSync(fd);
  return fd;
}

const udpFd = (f: Fixtures) => udpSocketFd(f.udp);
const fdOfSocket = (s: net.Socket | net.Server) => (s as unknown as { _handle: { fd: number } })._handle.fd;

const readinessIs = (expected: Partial<Readiness>) => (value: unknown) => {
  const r = value as Readiness;
  for (const [k, v] of Object.entries(expected)) assert.equal(r[k as keyof Readiness], v, `${k} in ${JSON.stringify(r)}`);
};
const INVALID = readinessIs({ invalid: true, readable: false, writable: false });

describe('hardening: bad input to the core API', function () {
  let f: Fixtures;
  before(async () => {
    f = await makeFixtures();
    // waitFor opens its epoll fd on first use, and would take the number a "just closed fd"
    // case has just freed: open it now.
    await waitFor(f.tcp, { timeout: 0 });
  });
  after(async () => { await f.close(); });
  afterEach(cleanup);

  // ---- the target matrix: every function against every kind of thing that is not a TCP socket ----

  type Fn = 'setKeepAlive' | 'getKeepAlive' | 'takeSocketError' | 'readiness' | 'waitFor' | 'peek' | 'probe'
    | 'tcpInfo' | 'getOption' | 'setOption';
  const calls: Record<Fn, (target: never) => unknown> = {
    setKeepAlive: (t) => setKeepAlive(t, { idle: 5000 }),
    getKeepAlive: (t) => getKeepAlive(t),
    takeSocketError: (t) => takeSocketError(t),
    readiness: (t) => readiness(t),
    waitFor: (t) => waitFor(t, { writable: true, timeout: 30 }),
    peek: (t) => peek(t),
    probe: (t) => probe(t),
    tcpInfo: (t) => tcpInfo(t),
    getOption: (t) => getOption(t, constants.SOL_SOCKET, constants.SO_KEEPALIVE),
    setOption: (t) => setOption(t, constants.IPPROTO_TCP, constants.TCP_NODELAY, 1),
  };

  const allArg = (o: Outcome): Record<Fn, Outcome> =>
    Object.fromEntries(Object.keys(calls).map((k) => [k, o])) as Record<Fn, Outcome>;
  const withoutFd = (code: 'ERR_SOCKET_CLOSED' | 'ERR_SOCKET_NOT_CONNECTED' | 'ERR_SERVER_NOT_RUNNING'): Record<Fn, Outcome> => ({
    ...allArg(socketErr(code)),
    readiness: result('readiness with invalid: true', INVALID),
    probe: result("probe state 'closed' with no TCP_INFO", (v) => {
      assert.equal((v as { state: string }).state, 'closed');
      assert.equal((v as { tcp: unknown }).tcp, null);
    }),
  });
  const badFd = (code: 'EBADF'): Record<Fn, Outcome> => ({
    setKeepAlive: sys(code, 'setsockopt', 'TCP_KEEPIDLE'),
    getKeepAlive: sys(code, 'getsockopt', 'TCP_KEEPIDLE'),
    takeSocketError: sys(code, 'getsockopt', 'SO_ERROR'),
    readiness: result('readiness with invalid: true (POLLNVAL)', INVALID),
    waitFor: sys(code, 'epoll_ctl'),
    peek: sys(code, 'recv'),
    probe: result("probe state 'closed'", (v) => assert.equal((v as { state: string }).state, 'closed')),
    tcpInfo: sys(code, 'getsockopt', 'TCP_INFO'),
    getOption: sys(code, 'getsockopt'),
    setOption: sys(code, 'setsockopt'),
  });
  const notSocket = (ready: Partial<Readiness>, waitFor: Outcome): Record<Fn, Outcome> => ({
    setKeepAlive: sys('ENOTSOCK', 'setsockopt', 'TCP_KEEPIDLE'),
    getKeepAlive: sys('ENOTSOCK', 'getsockopt', 'TCP_KEEPIDLE'),
    takeSocketError: sys('ENOTSOCK', 'getsockopt', 'SO_ERROR'),
    readiness: result(`readiness ${JSON.stringify(ready)}`, readinessIs(ready)),
    waitFor,
    peek: sys('ENOTSOCK', 'recv'),
    probe: sys('ENOTSOCK', 'getsockopt', 'TCP_INFO'),
    tcpInfo: sys('ENOTSOCK', 'getsockopt', 'TCP_INFO'),
    getOption: sys('ENOTSOCK', 'getsockopt'),
    setOption: sys('ENOTSOCK', 'setsockopt'),
  });
  const notTcp = (setCode: string, peekOutcome: Outcome, ready: Partial<Readiness>): Record<Fn, Outcome> => ({
    setKeepAlive: sys(setCode, 'setsockopt', 'TCP_KEEPIDLE'),
    getKeepAlive: sys('ENOTSUP', 'getsockopt', 'TCP_KEEPIDLE'),
    takeSocketError: result('null: no error pending', (v) => assert.equal(v, null)),
    readiness: result(`readiness ${JSON.stringify(ready)}`, readinessIs(ready)),
    waitFor: result(`a wait that resolves with ${JSON.stringify(ready)}`, readinessIs(ready)),
    peek: peekOutcome,
    probe: sys('ENOTSUP', 'getsockopt', 'TCP_INFO'),
    tcpInfo: sys('ENOTSUP', 'getsockopt', 'TCP_INFO'),
    getOption: result('SO_KEEPALIVE read as 0', (v) => assert.equal(v, 0)),
    setOption: sys(setCode, 'setsockopt'),
  });
  const empty = result("'empty'", (v) => assert.equal(v, 'empty'));

  const kinds: Array<{ what: string; target: (f: Fixtures) => unknown; expect: Record<Fn, Outcome>; keepAliveFd?: (f: Fixtures) => number }> = [
    { what: 'an fd number that was just closed', target: () => justClosedFd(), expect: badFd('EBADF') },
    { what: 'fd 2147483647, never open', target: () => 0x7fffffff, expect: badFd('EBADF') },
    { what: "a regular file's fd", target: (x) => x.file, expect: notSocket({ readable: true, writable: true }, sys('EPERM', 'epoll_ctl')) },
    {
      what: "a pipe's fd", target: (x) => x.fifo,
      expect: notSocket({ writable: true, readable: false, invalid: false }, result('a wait that resolves writable', readinessIs({ writable: true }))),
    },
    {
      what: 'a connected Unix socket', target: (x) => x.unixClient, keepAliveFd: (x) => fdOfSocket(x.unixClient),
      expect: notTcp('ENOTSUP', empty, { writable: true, invalid: false }),
    },
    {
      what: 'a listening Unix socket', target: (x) => x.unixServer, keepAliveFd: (x) => fdOfSocket(x.unixServer),
      expect: notTcp('ENOTSUP', sys('EINVAL', 'recv'), { readable: false, writable: false, invalid: false }),
    },
    {
      what: "a bound UDP socket's fd", target: udpFd, keepAliveFd: udpFd,
      expect: notTcp('ENOPROTOOPT', empty, { writable: true, invalid: false }),
    },
    { what: 'a dgram.Socket object', target: (x) => x.udp, expect: allArg(argType()) },
    {
      what: 'a listening TCP server', target: (x) => x.listener,
      expect: {
        setKeepAlive: result('applied to the listener', (v) => assert.equal(v, undefined)),
        getKeepAlive: result('its settings, idle 5000 as just set', (v) => assert.equal((v as KeepAlive).idle, 5000)),
        takeSocketError: result('null', (v) => assert.equal(v, null)),
        readiness: result('nothing ready, not invalid', readinessIs({ readable: false, writable: false, invalid: false })),
        waitFor: result('a wait that times out with nothing ready', readinessIs({ readable: false, writable: false, invalid: false })),
        peek: sys('ENOTCONN', 'recv'),
        probe: result("state 'open', TCP state LISTEN", (v) => {
          assert.equal((v as { state: string }).state, 'open');
          assert.equal((v as { tcp: { state: string } }).tcp.state, 'LISTEN');
        }),
        tcpInfo: result('TCP state LISTEN', (v) => assert.equal((v as { state: string }).state, 'LISTEN')),
        getOption: result('SO_KEEPALIVE read as 1', (v) => assert.equal(v, 1)),
        setOption: result('TCP_NODELAY set', (v) => assert.equal(v, undefined)),
      },
    },
    { what: 'a server that is not listening', target: () => net.createServer(), expect: withoutFd('ERR_SERVER_NOT_RUNNING') },
    {
      what: 'a destroyed socket',
      target: () => {
        const s = new net.Socket();
        s.destroy();
        return s;
      },
      expect: withoutFd('ERR_SOCKET_CLOSED'),
    },
    {
      what: 'a socket not connected yet',
      target: () => new net.Socket(),
      expect: {
        ...withoutFd('ERR_SOCKET_NOT_CONNECTED'),
        setKeepAlive: result('accepted, to be applied on connect', (v) => assert.equal(v, undefined)),
      },
    },
    { what: 'an object with a bogus fd property', target: (x) => ({ fd: fdOfSocket(x.tcp) }), expect: allArg(argType()) },
    { what: 'an object shaped like a socket', target: (x) => ({ _handle: { fd: fdOfSocket(x.tcp) }, destroyed: false }), expect: allArg(argType()) },
    { what: 'a fractional fd', target: (x) => fdOfSocket(x.tcp) + 0.5, expect: allArg(range()) },
    { what: 'fd -1', target: () => -1, expect: allArg(range()) },
    { what: 'fd NaN', target: () => NaN, expect: allArg(range()) },
    { what: 'fd Infinity', target: () => Infinity, expect: allArg(range()) },
    { what: 'fd -Infinity', target: () => -Infinity, expect: allArg(range()) },
    { what: 'fd 2147483648, one past the largest', target: () => 2 ** 31, expect: allArg(range()) },
    { what: 'fd 1e300', target: () => 1e300, expect: allArg(range()) },
    { what: 'an fd as a numeric string', target: (x) => String(fdOfSocket(x.tcp)), expect: allArg(argType()) },
    { what: 'an fd as a bigint', target: (x) => BigInt(fdOfSocket(x.tcp)), expect: allArg(argType()) },
    { what: 'null', target: () => null, expect: allArg(argType()) },
    { what: 'undefined', target: () => undefined, expect: allArg(argType()) },
    { what: 'an array given where one target is expected', target: (x) => [x.tcp], expect: { ...allArg(argType()), readiness: result('an array of one readiness', (v) => assert.equal((v as unknown[]).length, 1)) } },
  ];

  for (const kind of kinds) {
    describe(`given ${kind.what}`, () => {
      for (const [fn, outcome] of Object.entries(kind.expect) as Array<[Fn, Outcome]>) {
        it(`${fn} gives ${describeOutcome(outcome)}`, async () => {
          const target = kind.target(f);
          const keepAliveBefore = fn === 'setKeepAlive' && kind.keepAliveFd
            ? getOption(kind.keepAliveFd(f), constants.SOL_SOCKET, constants.SO_KEEPALIVE) : undefined;
          await expectOutcome(() => calls[fn](target as never), outcome);
          if (keepAliveBefore !== undefined) {
            // A refused socket is left as it was: SO_KEEPALIVE is set last, after the TCP options.
            assert.equal(getOption(kind.keepAliveFd!(f), constants.SOL_SOCKET, constants.SO_KEEPALIVE), keepAliveBefore);
          }
        });
      }
    });
  }

  // ---- setKeepAlive options: each refused before any syscall, the socket left exactly as it was ----

  describe('setKeepAlive options', () => {
    const tuned = { enable: true, idle: 7000, interval: 3000, count: 4, userTimeout: 9000 };
    before(() => setKeepAlive(f.tcp, tuned));

    /** Everything the kernel holds that setKeepAlive could touch, read two ways. */
    function snapshot(s: net.Socket) {
      return {
        keepAlive: getKeepAlive(s),
        raw: [
          getOption(s, constants.SOL_SOCKET, constants.SO_KEEPALIVE),
          getOption(s, constants.IPPROTO_TCP, constants.TCP_KEEPIDLE),
          getOption(s, constants.IPPROTO_TCP, constants.TCP_KEEPINTVL),
          getOption(s, constants.IPPROTO_TCP, constants.TCP_KEEPCNT),
          getOption(s, constants.IPPROTO_TCP, constants.TCP_USER_TIMEOUT),
        ],
      };
    }

    const refused: Array<[string, unknown, Outcome]> = [
      ['options as a string', 'fast', argType('options')],
      ['options null', null, argType('options')],
      ['options an array', [{ idle: 1000 }], argType('options')],
      ['options a number', 42, argType('options')],
      ['enable as 1', { enable: 1 }, argType('options.enable')],
      ["enable as 'false'", { enable: 'false', idle: 1000 }, argType('options.enable')],
      ['enable null', { enable: null }, argType('options.enable')],
      ["idle as '5000'", { idle: '5000' }, argType('options.idle')],
      ['idle as a bigint', { idle: 5000n }, argType('options.idle')],
      ['idle null', { idle: null }, argType('options.idle')],
      ['idle NaN', { idle: NaN }, range('options.idle')],
      ['idle Infinity', { idle: Infinity }, range('options.idle')],
      ['idle -Infinity', { idle: -Infinity }, range('options.idle')],
      ['idle 0', { idle: 0 }, range('options.idle')],
      ['idle -1000', { idle: -1000 }, range('options.idle')],
      ['idle 32767001 ms (rounds up past 32767 s)', { idle: 32_767_001 }, range('options.idle')],
      ['idle 1e300', { idle: 1e300 }, range('options.idle')],
      ['interval 32768000 ms', { interval: 32_768_000 }, range('options.interval')],
      ['interval as an object', { interval: {} }, argType('options.interval')],
      ['interval -0.5', { interval: -0.5 }, range('options.interval')],
      ['interval NaN', { interval: NaN }, range('options.interval')],
      ['count 0', { count: 0 }, range('options.count')],
      ['count 128', { count: 128 }, range('options.count')],
      ['count -1 (the native "leave as is")', { count: -1 }, range('options.count')],
      ['count 2.5', { count: 2.5 }, range('options.count')],
      ['count NaN', { count: NaN }, range('options.count')],
      ['count Infinity', { count: Infinity }, range('options.count')],
      ["count '3'", { count: '3' }, argType('options.count')],
      ['userTimeout -1 (the native "leave as is")', { userTimeout: -1 }, range('options.userTimeout')],
      ['userTimeout 2147483648', { userTimeout: 2 ** 31 }, range('options.userTimeout')],
      ['userTimeout 1.5', { userTimeout: 1.5 }, range('options.userTimeout')],
      ['userTimeout Infinity', { userTimeout: Infinity }, range('options.userTimeout')],
      ['userTimeout 2^53', { userTimeout: 2 ** 53 }, range('options.userTimeout')],
      ['userTimeout null', { userTimeout: null }, argType('options.userTimeout')],
      ['good fields first, a bad count last', { enable: false, idle: 2000, interval: 2000, userTimeout: 1, count: 200 }, range('options.count')],
      ['good fields first, a bad userTimeout last', { idle: 1000, interval: 1000, count: 1, userTimeout: -5 }, range('options.userTimeout')],
      ['enable false with a bad idle', { enable: false, idle: 0 }, range('options.idle')],
    ];
    for (const [what, options, outcome] of refused) {
      it(`refuses ${what} with ${describeOutcome(outcome)}, changing nothing on the socket`, async () => {
        const before = snapshot(f.tcp);
        assert.deepEqual(before.keepAlive, tuned);
        await expectOutcome(() => setKeepAlive(f.tcp, options as never), outcome);
        assert.deepEqual(snapshot(f.tcp), before);
      });
    }

    it('refuses bad options on a listener too, and its future connections inherit nothing', async () => {
      const server = net.createServer();
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      try {
        const before = getKeepAlive(server);
        await expectOutcome(() => setKeepAlive(server, { idle: 1000, count: 0 }), range('options.count'));
        assert.deepEqual(getKeepAlive(server), before);
      } finally {
        server.close();
      }
    });

    it('a refused call on a socket still connecting leaves nothing to apply when it connects', async () => {
      const s = new net.Socket();
      await expectOutcome(() => setKeepAlive(s, { idle: 2000, count: 500 }), range('options.count'));
      assert.equal(s.listenerCount('connect'), 0);
      s.connect((f.listener.address() as net.AddressInfo).port, '127.0.0.1');
      await once(s, 'connect');
      try {
        assert.equal(getKeepAlive(s).enable, false);
        assert.notEqual(getKeepAlive(s).idle, 2000);
      } finally {
        s.destroy();
      }
    });

    it("a UDP socket is refused before SO_KEEPALIVE is touched, even with only 'enable'", async () => {
      const fd = udpFd(f);
      await expectOutcome(() => setKeepAlive(fd, {}), sys('ENOTSUP', 'getsockopt', 'TCP_KEEPIDLE'));
      await expectOutcome(() => setKeepAlive(fd, { enable: true, count: 3 }), sys('ENOPROTOOPT', 'setsockopt', 'TCP_KEEPCNT'));
      assert.equal(getOption(fd, constants.SOL_SOCKET, constants.SO_KEEPALIVE), 0);
    });

    // The edges that are accepted, and what the kernel then holds.
    const accepted: Array<[string, object, Partial<KeepAlive>]> = [
      ['idle 32767000 ms, the largest', { idle: 32_767_000 }, { idle: 32_767_000 }],
      ['idle 1 ms, rounded up to 1 s', { idle: 1 }, { idle: 1000 }],
      ['interval 0.001 ms, rounded up to 1 s', { interval: 0.001 }, { interval: 1000 }],
      ['count 1 and 127', { count: 127 }, { count: 127 }],
      ['userTimeout 2147483647 ms, the largest', { userTimeout: 2 ** 31 - 1 }, { userTimeout: 2 ** 31 - 1 }],
      ['userTimeout 0, the kernel default', { userTimeout: 0 }, { userTimeout: 0 }],
      ['undefined fields, left as they are', { idle: undefined, count: undefined }, { idle: 7000, count: 4 }],
    ];
    for (const [what, options, expected] of accepted) {
      it(`accepts ${what}`, async () => {
        const server = net.createServer();
        server.listen(0, '127.0.0.1');
        await once(server, 'listening');
        try {
          setKeepAlive(server, tuned);
          setKeepAlive(server, options);
          const got = getKeepAlive(server);
          for (const [k, v] of Object.entries(expected)) assert.equal(got[k as keyof KeepAlive], v, k);
        } finally {
          server.close();
        }
      });
    }
  });

  // ---- the other functions' own arguments ----

  describe('waitFor options', () => {
    const refused: Array<[string, unknown, Outcome]> = [
      ['options null', null, argType('options')],
      ["options 'fast'", 'fast', argType('options')],
      ['timeout NaN', { timeout: NaN }, range('options.timeout')],
      ['timeout Infinity', { timeout: Infinity }, range('options.timeout')],
      ['timeout -1', { timeout: -1 }, range('options.timeout')],
      ['timeout 2147483648 ms, one past the timer limit', { timeout: 2 ** 31 }, range('options.timeout')],
      ["timeout '10'", { timeout: '10' }, argType('options.timeout')],
      ["readable 'yes'", { readable: 'yes' }, argType('options.readable')],
      ['writable 1', { writable: 1 }, argType('options.writable')],
      ['signal as a plain object', { signal: { aborted: false } }, argType('options.signal')],
    ];
    for (const [what, options, outcome] of refused) {
      it(`rejects ${what} with ${describeOutcome(outcome)}, never throwing synchronously`, async () => {
        let promise: Promise<unknown> | undefined;
        assert.doesNotThrow(() => { promise = waitFor(f.tcp, options as never); });
        await expectOutcome(() => promise, outcome);
      });
    }

    it('rejects at once with the reason of a signal that is already aborted', async () => {
      const reason = new Error('gave up');
      await assert.rejects(waitFor(f.tcp, { signal: AbortSignal.abort(reason) }), (err) => err === reason);
    });

    it('timeout 0 resolves with the readiness now', async () => {
      const r = await waitFor(f.tcp, { timeout: 0 });
      assert.equal(r.readable, false);
      assert.equal(r.invalid, false);
    });
  });

  describe('probe, getOption and setOption arguments', () => {
    const cases: Array<[string, () => unknown, Outcome]> = [
      ["probe options 'x'", () => probe(f.tcp, 'x' as never), argType('options')],
      ['probe takeError 1', () => probe(f.tcp, { takeError: 1 as never }), argType('options.takeError')],
      ['probe takeError null', () => probe(f.tcp, { takeError: null as never }), argType('options.takeError')],
      ["getOption level '1'", () => getOption(f.tcp, '1' as never, 8), argType('level')],
      ['getOption level NaN', () => getOption(f.tcp, NaN, 8), range('level')],
      ['getOption level -1', () => getOption(f.tcp, -1, 8), range('level')],
      ['getOption level 2147483648', () => getOption(f.tcp, 2 ** 31, 8), range('level')],
      ['getOption level 1.5', () => getOption(f.tcp, 1.5, 8), range('level')],
      ['getOption name Infinity', () => getOption(f.tcp, constants.SOL_SOCKET, Infinity), range('name')],
      ['getOption name undefined', () => getOption(f.tcp, constants.SOL_SOCKET, undefined as never), argType('name')],
      ['getOption level 2147483647, the largest: the kernel refuses it', () => getOption(f.tcp, 0x7fffffff, 1), sys('ENOTSUP', 'getsockopt')],
      ['getOption name 2147483647: no such option', () => getOption(f.tcp, constants.SOL_SOCKET, 0x7fffffff), sys('ENOPROTOOPT', 'getsockopt')],
      ['setOption value 2147483648', () => setOption(f.tcp, constants.IPPROTO_TCP, constants.TCP_NODELAY, 2 ** 31), range('value')],
      ['setOption value -2147483649', () => setOption(f.tcp, constants.IPPROTO_TCP, constants.TCP_NODELAY, -(2 ** 31) - 1), range('value')],
      ['setOption value 0.5', () => setOption(f.tcp, constants.IPPROTO_TCP, constants.TCP_NODELAY, 0.5), range('value')],
      ["setOption value '1'", () => setOption(f.tcp, constants.IPPROTO_TCP, constants.TCP_NODELAY, '1' as never), argType('value')],
      ['setOption value true', () => setOption(f.tcp, constants.IPPROTO_TCP, constants.TCP_NODELAY, true as never), argType('value')],
      ['setOption name -0.5', () => setOption(f.tcp, constants.IPPROTO_TCP, -0.5, 1), range('name')],
      ['setOption level 2147483647: no such protocol level', () => setOption(f.tcp, 0x7fffffff, 1, 1), sys('ENOPROTOOPT', 'setsockopt')],
    ];
    for (const [what, call, outcome] of cases) {
      it(`${what} gives ${describeOutcome(outcome)} and leaves TCP_NODELAY as it was`, async () => {
        const before = getOption(f.tcp, constants.IPPROTO_TCP, constants.TCP_NODELAY);
        await expectOutcome(call, outcome);
        assert.equal(getOption(f.tcp, constants.IPPROTO_TCP, constants.TCP_NODELAY), before);
      });
    }

    it('setOption takes -2147483648, the smallest int, and the kernel reads it as on', () => {
      setOption(f.tcp, constants.IPPROTO_TCP, constants.TCP_NODELAY, -(2 ** 31));
      assert.equal(getOption(f.tcp, constants.IPPROTO_TCP, constants.TCP_NODELAY), 1);
      setOption(f.tcp, constants.IPPROTO_TCP, constants.TCP_NODELAY, 0);
    });
  });

  // ---- batches and one socket reached twice ----

  describe('one socket reached twice', () => {
    it('readiness answers for a target given twice in one batch, both times the same', async () => {
      f.remote.write('x');
      await waitFor(f.tcp, { readable: true, timeout: 2000 });
      const fd = fdOfSocket(f.tcp);
      const rs = readiness([f.tcp, f.tcp, fd]);
      assert.equal(rs.length, 3);
      assert.deepEqual(rs[0], rs[1]);
      assert.deepEqual(rs[0], rs[2]);
      assert.equal(rs[0].readable, true);
    });

    it('readiness in a batch: dead entries are invalid and never spoil the live ones', () => {
      const destroyed = new net.Socket();
      destroyed.destroy();
      const rs = readiness([justClosedFd(), f.tcp, destroyed, new net.Socket(), 0x7fffffff, f.tcp]);
      assert.deepEqual(rs.map((r) => r.invalid), [true, false, true, true, true, false]);
      assert.deepEqual(readiness([]), []);
    });

    const batchRefused: Array<[string, () => unknown[], Outcome]> = [
      ['a bogus object', () => [f.tcp, { fd: 3 }], argType('targets[1]')],
      ['a fractional fd', () => [f.tcp, f.tcp, 3.5], range('targets[2]')],
      ['a hole in a sparse array', () => new Array(2), argType('targets[0]')],
      ['a dgram.Socket', () => [f.udp], argType('targets[0]')],
    ];
    for (const [what, targets, outcome] of batchRefused) {
      it(`readiness refuses a batch holding ${what}, naming the entry`, async () => {
        await expectOutcome(() => readiness(targets() as never), outcome);
      });
    }

    it('readiness takes a Set as one (bad) target, not as a batch', async () => {
      await expectOutcome(() => readiness(new Set([f.tcp]) as never), argType('target'));
    });

    it('waits on one socket through its fd number and through the socket both resolve', async () => {
      const fd = fdOfSocket(f.tcp);
      await waitFor(f.tcp, { readable: true, timeout: 2000 }); // the 'x' above may still be there
      const bySocket = waitFor(f.tcp, { writable: true, timeout: 2000 });
      const byFd = waitFor(fd, { writable: true, timeout: 2000 });
      const [a, b] = await Promise.all([bySocket, byFd]);
      assert.equal(a.writable, true);
      assert.equal(b.writable, true);
    });

    it('waits on a TLSSocket and on the socket under it both resolve when data arrives', async () => {
      const { tcp, remote } = await freshPair(f);
      try {
        const secure = new tls.TLSSocket(tcp);
        const raw = waitFor(tcp, { readable: true, timeout: 3000 });
        const wrapped = waitFor(secure, { readable: true, timeout: 3000 });
        remote.write('y');
        const [a, b] = await Promise.all([raw, wrapped]);
        assert.equal(a.readable, true);
        assert.equal(b.readable, true);
        secure.destroy();
      } finally {
        tcp.destroy();
        remote.destroy();
      }
    });
  });
});

async function freshPair(f: Fixtures): Promise<{ tcp: net.Socket; remote: net.Socket }> {
  const accepted = once(f.listener, 'connection') as Promise<[net.Socket]>;
  const remote = net.connect((f.listener.address() as net.AddressInfo).port, '127.0.0.1');
  await once(remote, 'connect');
  const [tcp] = await accepted;
  return { tcp, remote };
}
