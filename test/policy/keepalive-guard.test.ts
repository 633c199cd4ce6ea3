// The policy wins: a client that calls Node's setKeepAlive after connecting (ioredis does on
// every connect, with 30 s) would otherwise reset the interval to 1 s and the count to 10.
// Each case has a control without the policy, showing what the call does to a socket unguarded.
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import Redis from 'ioredis';
import { getKeepAlive, policy, type KeepAlive, type Policy } from '../../src';
import { cleanup, listen, track } from '../helpers';
import { SETTINGS, assertPolicyApplied, tlsCredentials } from './fixtures';
import { startRedis, type RedisServer } from './redis-server';

/** What Node's setKeepAlive(true, 30000) leaves on a socket nobody guards (libuv's 1 s and 10). */
const NODE_30S: KeepAlive = { enable: true, idle: 30_000, interval: 1000, count: 10, userTimeout: 0 };

function ownSetKeepAlive(socket: net.Socket): boolean {
  const handle = (socket as unknown as { _handle: object })._handle;
  return Object.hasOwn(handle, 'setKeepAlive');
}

describe('policy(): later setKeepAlive calls do not undo it', () => {
  let p: Policy | undefined;

  afterEach(async () => {
    p?.close();
    p = undefined;
    await cleanup();
  });

  async function connectTo(port: number): Promise<net.Socket> {
    const socket = track(net.connect(port, '127.0.0.1'));
    await once(socket, 'connect');
    return socket;
  }

  it('setKeepAlive(true, 30000) after connect: the kernel keeps the policy\'s idle, interval, count and user timeout', async () => {
    const server = await listen();
    const control = await connectTo(server.port);
    control.setKeepAlive(true, 30_000);
    assert.deepEqual(getKeepAlive(control), NODE_30S, 'control: Node resets interval and count');

    p = policy({ keepAlive: SETTINGS, match: (c) => c.remotePort === server.port && c.direction === 'outbound' });
    const socket = await connectTo(server.port);
    socket.setKeepAlive(true, 30_000);
    assertPolicyApplied(socket, 'after setKeepAlive(true, 30000)');
    socket.setKeepAlive(false);
    assertPolicyApplied(socket, 'after setKeepAlive(false): the policy keeps keepalive on');
    assert.equal(p.stats().reapplied, 2);
  });

  it('only the fields the policy sets are kept; the others stay as the caller left them', async () => {
    const server = await listen();
    p = policy({ keepAlive: { userTimeout: 5000 }, match: (c) => c.remotePort === server.port });
    const socket = await connectTo(server.port);
    socket.setKeepAlive(true, 30_000);
    assert.deepEqual(getKeepAlive(socket), { ...NODE_30S, userTimeout: 5000 });
  });

  it('through a TLSSocket, whose setKeepAlive goes to the TCP handle it wraps', async () => {
    const server = await listen(tls.createServer(tlsCredentials(), (s) => track(s).resume()));
    p = policy({ keepAlive: SETTINGS, match: (c) => c.remotePort === server.port });
    const socket = track(tls.connect({ port: server.port, host: '127.0.0.1', rejectUnauthorized: false }));
    await once(socket, 'secureConnect');
    socket.setKeepAlive(true, 30_000);
    assertPolicyApplied(socket, 'TLS socket after setKeepAlive(true, 30000)');
  });

  it('a server created with keepAlive: true, which calls setKeepAlive on each accepted socket', async () => {
    const server = await listen(net.createServer({ keepAlive: true, keepAliveInitialDelay: 30_000 }));
    const accepted = () => once(server, 'connection') as Promise<[net.Socket]>;
    let next = accepted();
    track(net.connect(server.port, '127.0.0.1'));
    const [control] = await next;
    track(control);
    assert.deepEqual(getKeepAlive(control), NODE_30S, 'control: the server\'s keepAlive sets Node\'s values');

    p = policy({ keepAlive: SETTINGS, match: (c) => c.localPort === server.port && c.direction === 'inbound' });
    next = accepted();
    track(net.connect(server.port, '127.0.0.1'));
    const [socket] = await next;
    track(socket);
    await new Promise(setImmediate); // Node announces accepted sockets after 'connection'
    assertPolicyApplied(socket, 'accepted by a keepAlive: true server');
  });

  it('after close(), setKeepAlive on a connection it took is Node\'s again, and the guard is gone', async () => {
    const server = await listen();
    p = policy({ keepAlive: SETTINGS, match: (c) => c.remotePort === server.port });
    const socket = await connectTo(server.port);
    assert.ok(ownSetKeepAlive(socket), 'guarded while the policy is open');
    p.close();
    assertPolicyApplied(socket, 'close() leaves the settings in place');
    socket.setKeepAlive(true, 30_000);
    // Node's call takes effect (its user timeout it never touches).
    assert.deepEqual(getKeepAlive(socket), { ...NODE_30S, userTimeout: SETTINGS.userTimeout });
    assert.ok(!ownSetKeepAlive(socket), 'the guard removed itself on its first call after close()');
  });

  describe('ioredis 6 against a real redis-server', function () {
    this.timeout(30_000);
    let redis: RedisServer;
    before(async () => {
      redis = await startRedis();
    });
    after(async () => {
      await redis?.close();
    });

    async function connectedClient(): Promise<Redis> {
      const client = new Redis({ port: redis.port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null });
      assert.equal(await client.ping(), 'PONG');
      return client;
    }

    it('ioredis\'s own setKeepAlive(true, 30000) on connect leaves the policy\'s settings', async () => {
      const control = await connectedClient();
      try {
        assert.deepEqual(getKeepAlive(control.stream), NODE_30S, 'control: ioredis 6 sets 30 s, Node resets interval and count');
      } finally {
        control.disconnect();
      }

      p = policy({ keepAlive: SETTINGS, match: (c) => c.remotePort === redis.port });
      const client = await connectedClient();
      try {
        assertPolicyApplied(client.stream, 'ioredis');
        assert.ok(p.stats().reapplied >= 1, 'ioredis called setKeepAlive and the policy applied its settings again');
      } finally {
        client.disconnect();
      }
    });

    it('a connection the policy does not match keeps what ioredis set', async () => {
      p = policy({ keepAlive: SETTINGS, match: () => false });
      const client = await connectedClient();
      try {
        assert.deepEqual(getKeepAlive(client.stream), NODE_30S);
        assert.ok(!ownSetKeepAlive(client.stream), 'no guard on an unmatched connection');
        assert.deepEqual(p.stats(), { matched: 0, reapplied: 0, failed: 0 });
      } finally {
        client.disconnect();
      }
    });
  });
});
