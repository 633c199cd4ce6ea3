// policy()'s contract apart from coverage: bad input hooks nothing, close() removes every hook
// and leaves connections as they are, two policies compose (the newest that matches wins),
// unmatched connections are untouched, and a monitor gets every matched connection.
import { strict as assert } from 'node:assert';
import * as dc from 'node:diagnostics_channel';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { LivenessMonitor, getKeepAlive, policy, type DeadReason, type Policy, type PolicyConnection } from '../../src';
import { cleanup, listen, track } from '../helpers';
import { APPLIED, SETTINGS, UNTOUCHED, assertPolicyApplied } from './fixtures';

const CHANNELS = ['net.client.socket', 'net.server.socket', 'undici:client:connected'];
// Before any policy in this process: what close() must give back.
const nodesConnect = net.Socket.prototype.connect;

function assertNoHooks(when: string): void {
  for (const name of CHANNELS) assert.equal(dc.hasSubscribers(name), false, `${when}: nothing subscribed to ${name}`);
  assert.equal(net.Socket.prototype.connect, nodesConnect, `${when}: Socket.prototype.connect is Node's own`);
}

async function connectTo(port: number): Promise<net.Socket> {
  const socket = track(net.connect(port, '127.0.0.1'));
  await once(socket, 'connect');
  return socket;
}

describe('policy()', () => {
  const policies: Policy[] = [];
  const make = (options: Parameters<typeof policy>[0]) => {
    const p = policy(options);
    policies.push(p);
    return p;
  };

  afterEach(async () => {
    for (const p of policies.splice(0)) p.close();
    await cleanup();
    assertNoHooks('after each test');
  });

  describe('bad input: a clear error, and nothing hooked', () => {
    class NotAMonitor {}
    const cases: [string, unknown, typeof TypeError | typeof RangeError, string, string][] = [
      ['no options', undefined, TypeError, 'ERR_INVALID_ARG_TYPE', '"options"'],
      ['null', null, TypeError, 'ERR_INVALID_ARG_TYPE', '"options"'],
      ['a number', 5, TypeError, 'ERR_INVALID_ARG_TYPE', '"options"'],
      ['neither keepAlive nor monitor', {}, TypeError, 'ERR_INVALID_ARG_TYPE', '"options.keepAlive"'],
      ['a misspelt keepAlive', { keepalive: SETTINGS }, TypeError, 'ERR_INVALID_ARG_TYPE', '"options.keepAlive"'],
      ['keepAlive a string', { keepAlive: '10s' }, TypeError, 'ERR_INVALID_ARG_TYPE', '"options.keepAlive"'],
      ['idle 0', { keepAlive: { idle: 0 } }, RangeError, 'ERR_OUT_OF_RANGE', '"options.keepAlive.idle"'],
      ['idle NaN', { keepAlive: { idle: NaN } }, RangeError, 'ERR_OUT_OF_RANGE', '"options.keepAlive.idle"'],
      ['interval past 32767 s', { keepAlive: { interval: 32_768_000 } }, RangeError, 'ERR_OUT_OF_RANGE', '"options.keepAlive.interval"'],
      ['count 128', { keepAlive: { count: 128 } }, RangeError, 'ERR_OUT_OF_RANGE', '"options.keepAlive.count"'],
      ['count 2.5', { keepAlive: { count: 2.5 } }, RangeError, 'ERR_OUT_OF_RANGE', '"options.keepAlive.count"'],
      ['userTimeout -1', { keepAlive: { userTimeout: -1 } }, RangeError, 'ERR_OUT_OF_RANGE', '"options.keepAlive.userTimeout"'],
      ['enable a string', { keepAlive: { enable: 'yes' } }, TypeError, 'ERR_INVALID_ARG_TYPE', '"options.keepAlive.enable"'],
      ['match a string', { keepAlive: SETTINGS, match: 'port 5432' }, TypeError, 'ERR_INVALID_ARG_TYPE', '"options.match"'],
      ['monitor a plain object', { keepAlive: SETTINGS, monitor: {} }, TypeError, 'ERR_INVALID_ARG_TYPE', '"options.monitor"'],
      ['monitor of another class', { monitor: new NotAMonitor() }, TypeError, 'ERR_INVALID_ARG_TYPE', '"options.monitor"'],
      // A good keepAlive beside a bad match: nothing may be half-installed.
      ['good keepAlive, bad match', { keepAlive: SETTINGS, match: 42 }, TypeError, 'ERR_INVALID_ARG_TYPE', '"options.match"'],
    ];
    for (const [what, options, type, code, name] of cases) {
      it(what, () => {
        assert.throws(() => policy(options as never), (err: Error & { code?: string }) => {
          assert.ok(err instanceof type, `${err.constructor.name}: ${err.message}`);
          assert.equal(err.code, code);
          assert.ok(err.message.includes(name), err.message);
          return true;
        });
        assertNoHooks(`after policy(${what})`);
      });
    }
  });

  describe('close()', () => {
    it('removes every hook, and is idempotent', async () => {
      const server = await listen();
      const p = make({ keepAlive: SETTINGS });
      for (const name of CHANNELS) assert.ok(dc.hasSubscribers(name), `${name} subscribed while open`);
      await connectTo(server.port);
      assert.equal(p.closed, false);
      p.close();
      assert.equal(p.closed, true);
      assertNoHooks('after close()');
      p.close();
      assertNoHooks('after a second close()');
    });

    it('leaves the connections it took as they are, and takes no new ones', async () => {
      const server = await listen();
      const p = make({ keepAlive: SETTINGS, match: (c) => c.direction === 'outbound' });
      const before = await connectTo(server.port);
      p.close();
      assertPolicyApplied(before, 'a connection taken before close()');
      assert.deepEqual(getKeepAlive(await connectTo(server.port)), UNTOUCHED, 'a connection made after close()');
      assert.deepEqual(p.stats(), { matched: 1, reapplied: 0, failed: 0 });
    });

    it('never removes a Socket.prototype.connect wrapper another library added after it', async () => {
      const server = await listen();
      const p = make({ keepAlive: SETTINGS, match: (c) => c.direction === 'outbound' });
      const underneath = net.Socket.prototype.connect;
      let calls = 0;
      const theirs = function (this: net.Socket, ...args: unknown[]) {
        calls++;
        return (underneath as (...a: unknown[]) => net.Socket).apply(this, args);
      };
      net.Socket.prototype.connect = theirs as typeof underneath;
      try {
        p.close();
        assert.equal(net.Socket.prototype.connect, theirs, 'their wrapper is still in place');
        const socket = await connectTo(server.port);
        assert.equal(calls, 1, 'and still called');
        assert.deepEqual(getKeepAlive(socket), UNTOUCHED, 'while the closed policy takes nothing');
      } finally {
        net.Socket.prototype.connect = nodesConnect;
      }
    });
  });

  it('the connect fallback stays only where the channel does not announce Socket.prototype.connect()', async () => {
    const server = await listen();
    const vias: string[] = [];
    make({ keepAlive: SETTINGS, match: (c) => c.direction === 'outbound' && vias.push(c.via) > 0 });
    const socket = track(new net.Socket());
    socket.connect(server.port, '127.0.0.1');
    await once(socket, 'connect');
    assertPolicyApplied(socket, 'new Socket().connect()');
    if (vias[0] === 'net.client.socket') {
      // This Node announced it from inside connect(): every client connect is announced there.
      assert.equal(net.Socket.prototype.connect, nodesConnect, 'the guard took itself out of the prototype');
    } else {
      assert.equal(vias[0], 'connect-fallback');
      assert.notEqual(net.Socket.prototype.connect, nodesConnect, 'the guard stays while the policy is open');
    }
  });

  it('a socket undici announces as connected that no other hook saw is taken once, and only once', async () => {
    const server = await listen();
    // Connected before the policy: as a socket an undici connector made some other way.
    const socket = await connectTo(server.port);
    const vias: string[] = [];
    make({ keepAlive: SETTINGS, match: (c) => c.direction === 'outbound' && vias.push(c.via) > 0 });
    // What undici publishes once its connector hands it a connected socket.
    const connected = dc.channel('undici:client:connected');
    connected.publish({ connectParams: { host: '127.0.0.1' }, connector: () => {}, socket });
    assertPolicyApplied(socket, 'announced by undici');
    connected.publish({ connectParams: { host: '127.0.0.1' }, connector: () => {}, socket });
    assert.deepEqual(vias, ['undici:client:connected'], 'asked once per connection');
  });

  describe('two policies', () => {
    const OTHER = { idle: 9000, interval: 2000, count: 5, userTimeout: 11_000 };

    it('the newest open policy that matches takes the connection; older ones are not asked', async () => {
      const server = await listen();
      let olderAsked = 0;
      const older = make({ keepAlive: SETTINGS, match: (c) => c.direction === 'outbound' && ++olderAsked > 0 });
      const newer = make({ keepAlive: OTHER, match: (c) => c.direction === 'outbound' });
      const socket = await connectTo(server.port);
      assert.deepEqual(getKeepAlive(socket), { enable: true, ...OTHER });
      assert.equal(olderAsked, 0);
      assert.equal(older.stats().matched, 0);
      assert.equal(newer.stats().matched, 1);
    });

    it('a connection the newer one does not match goes to the older one', async () => {
      const server = await listen();
      make({ keepAlive: SETTINGS, match: (c) => c.direction === 'outbound' });
      make({ keepAlive: OTHER, match: (c) => c.direction === 'outbound' && c.remotePort === 1 });
      assertPolicyApplied(await connectTo(server.port), 'unmatched by the newer');
    });

    it('closing the newer one gives new connections back to the older; closing the older keeps the newer working', async () => {
      const server = await listen();
      const older = make({ keepAlive: SETTINGS, match: (c) => c.direction === 'outbound' });
      const newer = make({ keepAlive: OTHER, match: (c) => c.direction === 'outbound' });
      newer.close();
      assertPolicyApplied(await connectTo(server.port), 'after the newer closed');
      const newest = make({ keepAlive: OTHER, match: (c) => c.direction === 'outbound' });
      older.close();
      assert.deepEqual(getKeepAlive(await connectTo(server.port)), { enable: true, ...OTHER });
      assert.equal(newest.stats().matched, 1);
    });
  });

  describe('connections it does not take', () => {
    it('a connection match() refuses is untouched: no settings, no guard', async () => {
      const server = await listen();
      const seen: PolicyConnection[] = [];
      const p = make({ keepAlive: SETTINGS, match: (c) => seen.push(c) < 0 });
      const socket = await connectTo(server.port);
      assert.deepEqual(getKeepAlive(socket), UNTOUCHED);
      assert.ok(!Object.hasOwn((socket as unknown as { _handle: object })._handle, 'setKeepAlive'));
      assert.equal(p.stats().matched, 0);
      // match saw the outbound connection and the server's accepted end, with their addresses.
      const out = seen.find((c) => c.direction === 'outbound')!;
      assert.equal(out.remotePort, server.port);
      assert.equal(out.remoteAddress, '127.0.0.1');
      assert.equal(out.localPort, socket.localPort);
      assert.equal(out.socket, socket);
      assert.ok(seen.some((c) => c.direction === 'inbound' && c.localPort === server.port && c.remotePort === socket.localPort));
    });

    it('a Unix-domain connection is not TCP: not offered to match, not an error', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-policy-unix-'));
      try {
        const server = track(net.createServer((s) => track(s).end('hi')).listen(path.join(dir, 's')));
        await once(server, 'listening');
        let asked = 0;
        make({ keepAlive: SETTINGS, match: () => ++asked > 0 });
        const socket = track(net.connect(path.join(dir, 's')));
        const [data] = await once(socket, 'data');
        assert.equal(String(data), 'hi');
        assert.equal(asked, 0);
      } finally {
        await cleanup();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('a match() that throws: an uncaught exception as from a throwing channel subscriber; the connection is untouched', async () => {
      const server = await listen();
      const boom = new Error('match failed');
      make({ keepAlive: SETTINGS, match: (c) => { if (c.direction === 'outbound') throw boom; return false; } });
      const mochas = process.listeners('uncaughtException');
      process.removeAllListeners('uncaughtException');
      try {
        const caught = once(process, 'uncaughtException');
        const socket = await connectTo(server.port);
        const [err] = await caught;
        assert.equal(err, boom);
        assert.deepEqual(getKeepAlive(socket), UNTOUCHED);
        socket.write('still usable');
      } finally {
        process.removeAllListeners('uncaughtException');
        for (const l of mochas) process.on('uncaughtException', l);
      }
    });
  });

  describe('the ports match() reads', () => {
    type Seen = { c: PolicyConnection; remotePort: number | undefined; localPort: number | undefined };
    const cases: [string, string, string][] = [
      ['IPv4', '127.0.0.1', '127.0.0.1'],
      ['IPv6', '::1', '::1'],
      ['IPv4 to a dual-stack listener (an IPv4-mapped IPv6 peer on the accepted end)', '::', '127.0.0.1'],
    ];
    for (const [what, listenOn, connectHost] of cases) {
      it(`${what}: inbound and outbound, the ports are Node's own remotePort and localPort, read without Node building an address`, async () => {
        const server = track(net.createServer());
        server.listen(0, listenOn);
        await once(server, 'listening');
        const port = (server.address() as net.AddressInfo).port;
        // Node's address getters end in the TCP handle's getpeername/getsockname: count the calls
        // made while match() reads the ports.
        const tcp = Object.getPrototypeOf((server as unknown as { _handle: object })._handle) as Record<string, Function>;
        const nodes = { getpeername: tcp.getpeername, getsockname: tcp.getsockname };
        let inMatch = false;
        let nodeReads = 0;
        for (const name of ['getpeername', 'getsockname'] as const) {
          tcp[name] = function (this: unknown, ...args: unknown[]) {
            if (inMatch) nodeReads++;
            return nodes[name].apply(this, args);
          };
        }
        const seen: Seen[] = [];
        try {
          make({
            keepAlive: SETTINGS,
            match: (c) => {
              inMatch = true;
              try {
                seen.push({ c, remotePort: c.remotePort, localPort: c.localPort });
              } finally {
                inMatch = false;
              }
              return false;
            },
          });
          const accepted = once(server, 'connection') as Promise<[net.Socket]>;
          const client = track(net.connect(port, connectHost));
          await once(client, 'connect');
          const [peer] = await accepted;
          track(peer);
          assert.equal(nodeReads, 0, 'match() read the ports without Node\'s getpeername/getsockname');
          const out = seen.find((x) => x.c.direction === 'outbound')!;
          const inb = seen.find((x) => x.c.direction === 'inbound')!;
          assert.equal(out.c.socket, client);
          assert.equal(inb.c.socket, peer);
          assert.deepEqual([out.remotePort, out.localPort], [client.remotePort, client.localPort], 'outbound');
          assert.deepEqual([inb.remotePort, inb.localPort], [peer.remotePort, peer.localPort], 'inbound');
          assert.equal(out.remotePort, port);
          assert.equal(inb.localPort, port);
          assert.equal(inb.remotePort, client.localPort);
          assert.equal(seen.length, 2);
        } finally {
          Object.assign(tcp, nodes);
        }
      });
    }

    it('a connection first read after its socket closed: the ports are what Node gives, undefined', async () => {
      const server = await listen();
      const seen: PolicyConnection[] = [];
      make({ keepAlive: SETTINGS, match: (c) => c.direction === 'outbound' && seen.push(c) < 0 });
      const socket = await connectTo(server.port);
      socket.destroy();
      await once(socket, 'close');
      const [c] = seen;
      assert.equal(c.remotePort, undefined);
      assert.equal(c.localPort, undefined);
      assert.equal(socket.remotePort, undefined);
      assert.equal(socket.localPort, undefined);
    });

    it('a connection reset before its peer port is read: no peer port, as Node says; the local port still the kernel\'s', async () => {
      // Accepted paused, so Node never reads the RST and the socket stays open with its fd: the
      // addon's getpeername fails (ENOTCONN) and Node's getter answers instead.
      const server = await listen(net.createServer({ pauseOnConnect: true }));
      const seen: PolicyConnection[] = [];
      make({ keepAlive: SETTINGS, match: (c) => c.direction === 'inbound' && seen.push(c) < 0 });
      const accepted = once(server, 'connection') as Promise<[net.Socket]>;
      const client = await connectTo(server.port);
      const [peer] = await accepted;
      track(peer);
      const clientPort = client.localPort;
      client.resetAndDestroy();
      await once(client, 'close');
      await new Promise((r) => setTimeout(r, 20)); // the RST reaches the accepted end
      const [c] = seen;
      assert.equal(c.socket, peer);
      assert.equal(peer.destroyed, false);
      assert.notEqual(clientPort, undefined);
      assert.equal(c.remotePort, undefined);
      assert.equal(peer.remotePort, undefined);
      assert.equal(c.localPort, server.port);
      assert.equal(peer.localPort, server.port);
    });

    it('a peer port read in match() is still there once the socket closed, as Node keeps its own', async () => {
      const server = await listen();
      const seen: PolicyConnection[] = [];
      make({ keepAlive: SETTINGS, match: (c) => c.direction === 'outbound' && c.remotePort === server.port && seen.push(c) < 0 });
      const socket = await connectTo(server.port);
      socket.destroy();
      await once(socket, 'close');
      assert.equal(seen.length, 1);
      assert.equal(seen[0].remotePort, server.port);
      // Node gives no local address for a closed socket, read before or not.
      assert.equal(seen[0].localPort, undefined);
      assert.equal(socket.localPort, undefined);
    });
  });

  describe('with a monitor', () => {
    it('every matched connection is added; the policy\'s keepalive, not the monitor\'s, is what the kernel holds', async () => {
      const server = await listen();
      const monitor = new LivenessMonitor({ keepAlive: { idle: 1000, interval: 1000, count: 2 } });
      try {
        make({ keepAlive: SETTINGS, monitor, match: (c) => c.direction === 'outbound' });
        const socket = await connectTo(server.port);
        assert.ok(monitor.has(socket));
        assert.equal(monitor.size, 1, 'only the matched (outbound) end');
        assertPolicyApplied(socket, 'monitored');
      } finally {
        monitor.close();
      }
    });

    it('a monitor-only policy adds the connection and the monitor applies its own keepalive', async () => {
      const server = await listen();
      const monitor = new LivenessMonitor({ keepAlive: { idle: 1000, interval: 1000, count: 2 } });
      try {
        make({ monitor, match: (c) => c.direction === 'outbound' });
        const socket = await connectTo(server.port);
        assert.ok(monitor.has(socket));
        assert.deepEqual(getKeepAlive(socket), { enable: true, idle: 1000, interval: 1000, count: 2, userTimeout: 0 });
      } finally {
        monitor.close();
      }
    });

    it('a matched connection reset by its peer is reported dead by the monitor', async () => {
      const server = await listen();
      const monitor = new LivenessMonitor();
      try {
        make({ keepAlive: SETTINGS, monitor, match: (c) => c.direction === 'outbound' });
        const accepted = once(server, 'connection') as Promise<[net.Socket]>;
        const socket = await connectTo(server.port);
        socket.on('error', () => {}); // the application's own listener: Node's read may meet the RST too
        const [peer] = await accepted;
        const dead = once(monitor, 'dead') as Promise<[net.Socket, DeadReason, Error | null]>;
        peer.resetAndDestroy();
        const [which, reason] = await dead;
        assert.equal(which, socket);
        assert.equal(reason, 'reset');
      } finally {
        monitor.close();
      }
    });

    it('a closed monitor: the connection is still tuned, and counted as failed', async () => {
      const server = await listen();
      const monitor = new LivenessMonitor();
      monitor.close();
      const p = make({ keepAlive: SETTINGS, monitor, match: (c) => c.direction === 'outbound' });
      assertPolicyApplied(await connectTo(server.port), 'with a closed monitor');
      assert.deepEqual(p.stats(), { matched: 1, reapplied: 0, failed: 1 });
    });
  });

  it('APPLIED is not what an untouched socket holds (the tests above could not pass by accident)', () => {
    assert.notDeepEqual(APPLIED, UNTOUCHED);
  });
});
