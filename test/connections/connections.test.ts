// connections() inside the process: the entries name the process's own net.Socket and
// net.Server, read keepalive back as getKeepAlive does, see IPv6, judge a connection the kernel
// already ended as dead, and refuse bad options as Node does.
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import * as net from 'node:net';
import { connections, getKeepAlive, setKeepAlive, type Connection } from '../../src';
import { native } from '../../src/binding';
import { cleanup, listen, pair, sleep, track, until } from '../helpers';

const mine = (socket: net.Socket) => connections().connections.find((c) => c.socket === socket);

describe('connections() in the process', () => {
  afterEach(cleanup);

  it('names the net.Socket each connection belongs to and the net.Server of each listener', async () => {
    const { client, peer, server } = await pair();
    const inv = connections();
    const c = inv.connections.find((x) => x.socket === client)!;
    const p = inv.connections.find((x) => x.socket === peer)!;
    assert.equal(c.localPort, client.localPort);
    assert.equal(c.remotePort, client.remotePort);
    assert.equal(p.localPort, peer.localPort);
    assert.equal(c.fd, (client as unknown as { _handle: { fd: number } })._handle.fd);
    const l = inv.listeners.find((x) => x.server === server)!;
    assert.equal(l.localPort, (server.address() as net.AddressInfo).port);
  });

  it('reads keepalive settings back as getKeepAlive does', async () => {
    const { client } = await pair();
    setKeepAlive(client, { idle: 7000, interval: 2000, count: 4, userTimeout: 9000 });
    const c = mine(client)!;
    assert.deepEqual(c.keepAlive, getKeepAlive(client));
    assert.equal(c.timer.kind, 'keepalive');
    assert.equal(c.verdict, 'ok');
  });

  it('counts a user timeout alone as a guard, and neither keepalive nor one as unguarded', async () => {
    const { client, peer } = await pair();
    setKeepAlive(client, { enable: false, userTimeout: 5000 });
    assert.equal(mine(client)!.verdict, 'ok');
    assert.equal(mine(peer)!.verdict, 'unguarded');
    assert.match(mine(peer)!.reason, /no keepalive and no user timeout/);
  });

  it('sees IPv6 connections with their addresses as Node shows them', async () => {
    const server = track(net.createServer());
    server.listen(0, '::1');
    await once(server, 'listening');
    const client = track(net.connect((server.address() as net.AddressInfo).port, '::1'));
    await once(client, 'connect');
    const c = mine(client)!;
    assert.equal(c.family, 'IPv6');
    assert.equal(c.localAddress, client.localAddress);
    assert.equal(c.remoteAddress, '::1');
    assert.equal(c.state, 'ESTABLISHED');
  });

  it('judges a connection the kernel ended (reset) while the application still holds it as dead', async () => {
    // Accepted paused: Node never reads it, so it does not learn of the reset.
    const { client, peer } = await pair(await listen(net.createServer({ pauseOnConnect: true })));
    client.resetAndDestroy();
    await until(() => mine(peer)?.state === 'CLOSE', 2000);
    const c = mine(peer)!;
    assert.equal(c.verdict, 'dead');
    assert.equal(c.seen, 'fd'); // the kernel's tables no longer hold it
    assert.equal(c.timer.kind, 'unknown');
  });

  it('judges a connection whose peer stopped reading (zero window) as stalled, with the probe timer', async () => {
    // Accepted paused: the peer's kernel buffers fill, its window closes, ours probes it.
    const { client, peer } = await pair(await listen(net.createServer({ pauseOnConnect: true })));
    client.write(Buffer.alloc(32 << 20));
    const probing = () => mine(client)?.timer.kind === 'zero-window-probe';
    await until(probing, 5000, 'the zero-window probe timer');
    await sleep(600);
    const judged = connections({ stalled: 500 }).connections.find((c) => c.socket === client)!;
    assert.equal(judged.timer.kind, 'zero-window-probe');
    assert.equal(judged.verdict, 'stalled');
    assert.match(judged.reason, /receive window is zero/);
    assert.ok(judged.lastDataSent! >= 500, `${judged.lastDataSent}`);
    // Under the threshold it is judged as any established connection: no keepalive here.
    assert.equal(connections({ stalled: 60_000 }).connections.find((c) => c.socket === client)!.verdict, 'unguarded');
    client.on('error', () => {}); // closing on unread data resets it
    peer.destroy();
  });

  it('judges CLOSE_WAIT by the threshold it is given', async () => {
    // With allowHalfOpen false Node would end it at once; accepted paused, it never sees the FIN.
    const { client, peer } = await pair(await listen(net.createServer({ pauseOnConnect: true })));
    client.end();
    await until(() => mine(peer)?.state === 'CLOSE_WAIT', 2000);
    await sleep(300);
    const judged = (closeWait: number): Connection => connections({ closeWait }).connections.find((c) => c.socket === peer)!;
    assert.equal(judged(60_000).verdict, 'ok');
    assert.equal(judged(100).verdict, 'close-wait-leak');
  });

  it('keeps TIME_WAIT on each port it listens on, and none of those elsewhere', async () => {
    // Three listeners; on two of them this side closes first (TIME_WAIT on the listening port),
    // on the third the client closes first (TIME_WAIT on the client's ephemeral port: not ours
    // by port, so not listed). Several ports exercise every branch of the kernel-side filter.
    const servers = await Promise.all([1, 2, 3].map(() => listen()));
    const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
    const ephemeral: number[] = [];
    for (const [i, server] of servers.entries()) {
      const { client, peer } = await pair(server);
      const closer = i < 2 ? peer : client;
      if (i === 2) ephemeral.push(client.localPort!);
      closer.end();
      await Promise.all([once(client, 'close'), once(peer, 'close')]);
    }
    const tw = connections().connections.filter((c) => c.state === 'TIME_WAIT');
    assert.deepEqual(tw.map((c) => c.localPort).sort(), ports.slice(0, 2).sort());
    assert.ok(tw.every((c) => c.fd === null && c.timer.kind === 'time-wait'));
    assert.ok(!tw.some((c) => ephemeral.includes(c.localPort)));
  });

  it('refuses bad options with Node-shaped errors, before doing anything', () => {
    const cases: Array<[unknown, string, string]> = [
      [5, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [null, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [{ closeWait: '100' }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [{ closeWait: -1 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
      [{ stalled: NaN }, 'RangeError', 'ERR_OUT_OF_RANGE'],
      [{ stalled: Infinity }, 'RangeError', 'ERR_OUT_OF_RANGE'],
      [{ pid: 1.5 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
      [{ pid: 0 }, 'RangeError', 'ERR_OUT_OF_RANGE'],
      [{ pid: '1' }, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ];
    for (const [options, name, code] of cases) {
      assert.throws(() => connections(options as never), (err: NodeJS.ErrnoException) => {
        assert.equal(err.name, name, String(options));
        assert.equal(err.code, code);
        assert.match(err.message, /"options(\.\w+)?"/);
        return true;
      });
    }
  });

  it('says ESRCH for a process that does not exist', () => {
    assert.throws(() => connections({ pid: 2 ** 30 }), { code: 'ESRCH', syscall: 'inspect' });
  });

  it('has a native backstop that refuses nonsense without crashing', () => {
    const out = new Float64Array(1);
    for (const args of [[0, 1, -1, out], [process.pid, 2, -1, out], [process.pid, 1, -2, out], [process.pid, 1, -1, new Float32Array(1)], [process.pid, 1, -1]]) {
      assert.throws(() => (native.diagSnapshot as (...a: unknown[]) => unknown)(...args), TypeError);
    }
  });

  it('leaves no fd behind, on success or failure', async () => {
    await pair();
    const before = readdirSync('/proc/self/fd').length;
    const out = new Float64Array(1);
    for (let i = 0; i < 50; i++) {
      connections();
      // Not a namespace fd: setns refuses after the fd table was read; the netlink socket is never made.
      assert.equal(typeof native.diagSnapshot(process.pid, 0, 0, out), 'number');
      assert.throws(() => connections({ pid: 2 ** 30 }), { code: 'ESRCH' });
    }
    assert.equal(readdirSync('/proc/self/fd').length, before);
  });
});
