// One test per way a TCP connection comes into being in Node: after one policy() call, the
// kernel holds the policy's settings on that connection, whoever made it. Each test's match
// takes only its own connection (by port), so nothing else in the process is touched.
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { getKeepAlive, policy, type KeepAlive, type Policy, type PolicyConnection } from '../../src';
import { cleanup, listen, track } from '../helpers';
import { APPLIED, SETTINGS, assertPolicyApplied, coverage, fdOfConnection, tlsCredentials } from './fixtures';

describe('policy() reaches every kind of TCP connection', () => {
  let p: Policy | undefined;
  let seen: PolicyConnection[] = [];

  afterEach(async () => {
    p?.close();
    p = undefined;
    seen = [];
    await cleanup();
  });
  after(() => console.log(`      policy coverage on Node ${process.version}: ${coverage.join('; ')}`));

  /** A policy taking only the connection this process makes to `port`. */
  function outboundTo(port: number): Policy {
    return policy({
      keepAlive: SETTINGS,
      match: (c) => c.direction === 'outbound' && c.remotePort === port && seen.push(c) > 0,
    });
  }

  /** A policy taking only the connections a server of this process accepts on `port`. */
  function inboundOn(port: number): Policy {
    return policy({
      keepAlive: SETTINGS,
      match: (c) => c.direction === 'inbound' && c.localPort === port && seen.push(c) > 0,
    });
  }

  function found(entry: string, direction: 'outbound' | 'inbound'): void {
    assert.equal(seen.length, 1, `${entry}: the policy was asked about its connection once`);
    assert.equal(seen[0].direction, direction);
    coverage.push(`${entry}: ${seen[0].via}`);
  }

  /** The settings as the application's own first 'connect' listener sees them. */
  function readOnConnect(socket: net.Socket): () => KeepAlive | undefined {
    let read: KeepAlive | undefined;
    socket.once('connect', () => (read = getKeepAlive(socket)));
    return () => read;
  }

  it('net.connect(): tuned before the application\'s connect listeners run', async () => {
    const server = await listen();
    p = outboundTo(server.port);
    const socket = track(net.connect(server.port, '127.0.0.1'));
    const onConnect = readOnConnect(socket);
    await once(socket, 'connect');
    assertPolicyApplied(socket, 'net.connect');
    assert.deepEqual(onConnect(), APPLIED);
    found('net.connect', 'outbound');
  });

  it('new net.Socket().connect() (as pg and postgres.js connect)', async () => {
    const server = await listen();
    p = outboundTo(server.port);
    const socket = track(new net.Socket());
    socket.connect(server.port, '127.0.0.1');
    const onConnect = readOnConnect(socket);
    await once(socket, 'connect');
    assertPolicyApplied(socket, 'new Socket().connect');
    assert.deepEqual(onConnect(), APPLIED);
    found('new net.Socket().connect', 'outbound');
  });

  it('tls.connect() without a socket', async () => {
    const server = await listen(tls.createServer(tlsCredentials(), (s) => track(s).resume()));
    p = outboundTo(server.port);
    const socket = track(tls.connect({ port: server.port, host: '127.0.0.1', rejectUnauthorized: false }));
    await once(socket, 'secureConnect');
    assertPolicyApplied(socket, 'tls.connect');
    found('tls.connect', 'outbound');
  });

  it('tls.connect() over a socket the application connected', async () => {
    const server = await listen(tls.createServer(tlsCredentials(), (s) => track(s).resume()));
    p = outboundTo(server.port);
    const raw = track(net.connect(server.port, '127.0.0.1'));
    const socket = track(tls.connect({ socket: raw, rejectUnauthorized: false }));
    await once(socket, 'secureConnect');
    assertPolicyApplied(socket, 'tls.connect({ socket }): the TLS socket');
    assertPolicyApplied(raw, 'tls.connect({ socket }): the TCP socket under it');
    found('tls.connect({ socket })', 'outbound');
  });

  it('a socket a net server accepts', async () => {
    const server = await listen();
    p = inboundOn(server.port);
    const accepted = once(server, 'connection') as Promise<[net.Socket]>;
    track(net.connect(server.port, '127.0.0.1'));
    const [socket] = await accepted;
    track(socket);
    // Node announces an accepted socket after the server's 'connection' listeners ran.
    await new Promise(setImmediate);
    assertPolicyApplied(socket, 'net server');
    found('net server', 'inbound');
  });

  it('a socket an http server accepts', async () => {
    let read: KeepAlive | undefined;
    const server = await listen(http.createServer((req, res) => {
      read = getKeepAlive(track(req.socket));
      res.end('ok');
    }));
    p = inboundOn(server.port);
    const res = await fetchText(`http://127.0.0.1:${server.port}/`);
    assert.equal(res, 'ok');
    assert.deepEqual(read, APPLIED, 'http server: the request handler sees the policy\'s settings');
    found('http server', 'inbound');
  });

  it('a socket an https server accepts', async () => {
    let read: KeepAlive | undefined;
    const server = await listen(https.createServer(tlsCredentials(), (req, res) => {
      read = getKeepAlive(track(req.socket));
      res.end('ok');
    }));
    p = inboundOn(server.port);
    const agent = new https.Agent({ keepAlive: false });
    await new Promise<void>((resolve, reject) => {
      https.get({ port: server.port, host: '127.0.0.1', rejectUnauthorized: false, agent }, (res) => {
        res.resume().on('end', resolve);
      }).on('error', reject);
    });
    assert.deepEqual(read, APPLIED, 'https server: the request handler sees the policy\'s settings on its TLS socket');
    found('https server', 'inbound');
  });

  it('a socket an http2 server accepts', async () => {
    let socket: net.Socket | undefined;
    const server = await listen(http2.createServer().on('connection', (s: net.Socket) => (socket = track(s))));
    server.on('stream', (stream: http2.ServerHttp2Stream) => {
      stream.respond();
      stream.end('ok');
    });
    p = inboundOn(server.port);
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    try {
      const request = session.request();
      request.resume();
      await once(request, 'end');
    } finally {
      session.close();
    }
    assertPolicyApplied(socket!, 'http2 server');
    found('http2 server', 'inbound');
  });

  it('global fetch (undici): found through the kernel\'s table, not through any object', async () => {
    let clientPort = 0;
    const server = await listen(http.createServer((req, res) => {
      clientPort = track(req.socket).remotePort!;
      res.end('ok');
    }));
    p = outboundTo(server.port);
    assert.equal(await fetchText(`http://127.0.0.1:${server.port}/`), 'ok');
    // fetch keeps its connection in its pool: the kernel still has it.
    assertPolicyApplied(fdOfConnection(clientPort, server.port), 'fetch');
    found('fetch', 'outbound');
  });

  it('http.Agent with keepAlive: still the policy\'s once the socket is back in the pool (the Agent calls setKeepAlive then)', async () => {
    const server = await listen(http.createServer((req, res) => {
      track(req.socket);
      res.end('ok');
    }));
    p = outboundTo(server.port);
    const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 1000 });
    try {
      const freed = once(agent, 'free') as Promise<[net.Socket]>;
      http.get({ port: server.port, host: '127.0.0.1', agent }, (res) => res.resume());
      const [socket] = await freed;
      // The Agent's own 'free' listener ran first: socket.setKeepAlive(true, 1000).
      assertPolicyApplied(socket, 'http.Agent');
      found('http.Agent', 'outbound');
    } finally {
      agent.destroy();
    }
  });
});

async function fetchText(url: string): Promise<string> {
  const res = await fetch(url);
  return res.text();
}
