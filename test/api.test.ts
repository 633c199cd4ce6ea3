// The public surface as a user meets it: what `constants` offers, the default export, where a
// system error's stack starts, and how a native failure code is named.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tl from '../src';
import { failure, native } from '../src/binding';
import { cleanup, pair } from './helpers';

afterEach(cleanup);

describe('the public surface', () => {
  it('constants are the socket-option numbers getOption and setOption take, and nothing internal', () => {
    assert.deepEqual(Object.keys(tl.constants).sort(), [
      'IPPROTO_TCP', 'SOL_SOCKET', 'SO_KEEPALIVE', 'SO_RCVBUF', 'SO_SNDBUF',
      'TCP_KEEPCNT', 'TCP_KEEPIDLE', 'TCP_KEEPINTVL', 'TCP_NODELAY', 'TCP_USER_TIMEOUT',
    ]);
    // The built package, as `require('tcp-liveness')` gives it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const built = require(path.join(__dirname, '..', 'dist'));
    assert.deepEqual(built.constants, tl.constants);
    assert.deepEqual(Object.keys(built.constants).filter((k) => /POLL|SITES/.test(k)), []);
  });

  it('the whole API is also the default export', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const built = require(path.join(__dirname, '..', 'dist'));
    assert.equal(built.default, built);
    for (const name of ['setKeepAlive', 'getKeepAlive', 'probe', 'tcpInfo', 'waitFor', 'LivenessMonitor']) {
      assert.equal(typeof built.default[name], 'function', name);
    }
  });

  it("a system error's stack starts at the user's call, as Node's own do", async () => {
    const { client } = await pair();
    const file = fs.openSync(__filename, 'r'); // not a socket: every call fails in the kernel
    const firstFrame = (err: Error) => err.stack!.split('\n').find((line) => line.trimStart().startsWith('at '))!;
    const calls: Record<string, () => unknown> = {
      setKeepAlive: () => tl.setKeepAlive(file, { idle: 1000 }),
      getKeepAlive: () => tl.getKeepAlive(file),
      takeSocketError: () => tl.takeSocketError(file),
      getOption: () => tl.getOption(file, tl.constants.SOL_SOCKET, tl.constants.SO_KEEPALIVE),
      setOption: () => tl.setOption(client, tl.constants.IPPROTO_TCP, 9999, 1),
      peek: () => tl.peek(file),
      tcpInfo: () => tl.tcpInfo(file),
    };
    try {
      for (const [name, call] of Object.entries(calls)) {
        assert.throws(call, (err: Error & { syscall?: string }) => {
          assert.ok(err.syscall, `${name}: a system error`);
          assert.match(firstFrame(err), /api\.test\.ts/, `${name}: ${err.stack}`);
          return true;
        });
      }
      await assert.rejects(tl.waitFor(file), (err: Error & { syscall?: string }) => {
        assert.equal(err.syscall, 'epoll_ctl');
        assert.match(firstFrame(err), /api\.test\.ts/, `waitFor: ${err.stack}`);
        return true;
      });
    } finally {
      fs.closeSync(file);
    }
  });

  it('a failing epoll_wait is named epoll_wait, not epoll_ctl', () => {
    // epoll_wait on our own epoll set cannot be made to fail from outside without touching an
    // fd we were not given: this checks the addon's one site table, which names every code.
    const site = (syscall: string) => native.sites.findIndex((row) => row?.[0] === syscall);
    assert.ok(site('epoll_wait') > 0 && site('epoll_wait') !== site('epoll_ctl'));
    const err = failure(-(os.constants.errno.EBADF * native.sites.length + site('epoll_wait')));
    assert.equal(err.syscall, 'epoll_wait');
    assert.equal(err.message, 'EBADF: bad file descriptor, epoll_wait');
    // A getsockopt on a setsockopt site is its own row: the code a failed getOption returns.
    const get = native.getOption(0x7fffffff, 1, 9, new Int32Array(1));
    assert.equal(failure(get).syscall, 'getsockopt');
    assert.equal(failure(get).code, 'EBADF');
  });
});
