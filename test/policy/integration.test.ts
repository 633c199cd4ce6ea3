// policy() with real clients against real servers in test hosts: pg → PostgreSQL, ioredis →
// Redis, global fetch → an HTTP server, all in host b. The clients run unmodified in host a, in a
// child process of their own (a policy hooks every connection of its process: the test runner's
// stay out of it), configured only by one policy() call; beside each runs a control without it.
// Host b vanishes (blackhole) while a request is in flight.
import { strict as assert } from 'node:assert';
import { createTestNetwork, type TestNetwork } from '../../src/testing';
import { requireTestHosts } from '../netns/gate';
import { startHttp, startPostgres, startRedis, type Service } from './fixtures/services';
import {
  KEEPALIVE, TOLERANCE, assertControlPending, assertFailsWithinBound, assertSentAfterFaultFails, measured, printMeasured,
  spawnClient, startClients, vanish, type Clients, type Fault,
} from './host-scenario';

const cases: Array<{ client: 'pg' | 'ioredis' | 'fetch'; start: (n: TestNetwork) => Promise<Service>; codes: string[]; monitor: boolean }> = [
  { client: 'pg', start: startPostgres, codes: ['ETIMEDOUT'], monitor: true },
  // ioredis rejects the command itself with its own "Connection is closed."; the socket's error
  // (ETIMEDOUT) reaches the application on the client's 'error' event, checked below.
  { client: 'ioredis', start: startRedis, codes: ['ETIMEDOUT', null as unknown as string], monitor: false },
  { client: 'fetch', start: startHttp, codes: ['ETIMEDOUT'], monitor: false },
];

describe('policy() with real clients and servers in test hosts', function () {
  this.timeout(120_000);
  before(function () {
    requireTestHosts(this);
  });
  after(printMeasured);

  for (const { client, start, codes, monitor } of cases) {
    describe(`${client}, configured only by policy(), when host b vanishes`, () => {
      let network: TestNetwork | undefined;
      let service: Service | undefined;
      let s: Clients & Fault;

      before(async () => {
        network = await createTestNetwork({ prefix: 'tlpol' });
        service = await start(network);
        const clients = await startClients(network, client, service, monitor);
        const watched = [clients.policy, ...(clients.monitored ? [clients.monitored] : [])];
        s = { ...clients, ...await vanish(network, watched, [clients.control]) };
      });
      after(async () => {
        await network?.close();
        service?.close();
      });

      it(`the request in flight fails within the keepalive bound counted from the last packet heard`, async () => {
        await assertFailsWithinBound(s, s.policy, codes);
      });

      it('a request sent after the fault fails within userTimeout of being sent', async () => {
        await assertSentAfterFaultFails(s.policy, codes);
      });

      if (client === 'ioredis') {
        it('the client\'s error event carries the kernel\'s ETIMEDOUT', async () => {
          s.policy.send('errors');
          const errors = await s.policy.next('errors', 5000);
          assert.ok(errors?.some((e) => e.code === 'ETIMEDOUT'), JSON.stringify(errors));
        });
      }

      if (monitor) {
        it('with a monitor in the policy, the application still sees the kernel\'s error', async () => {
          await assertFailsWithinBound(s, s.monitored!, ['ETIMEDOUT']);
        });
      }

      it('a control without the policy is still pending at 3 × the bound', async () => {
        await assertControlPending(s, s.control);
      });
    });
  }

  describe('a frozen Redis, caught by a heartbeat through the protocol\'s own PING', () => {
    let network: TestNetwork | undefined;
    let service: Service | undefined;
    after(async () => {
      await network?.close();
      service?.close();
    });

    it('the monitor in the policy declares it dead within interval + timeout of the last reply', async () => {
      network = await createTestNetwork({ prefix: 'tlpol' });
      service = await startRedis(network);
      const heartbeat = { interval: 500, timeout: 500 };
      const c = spawnClient(network, 'ioredis with heartbeat', {
        client: 'ioredis', host: network.b.address, port: service.port, keepAlive: KEEPALIVE, monitor: { heartbeat },
      });
      assert.ok(await c.next('ready', 60_000), 'connected');
      await new Promise((r) => setTimeout(r, 1500)); // a few PINGs answered: the heartbeat works while alive
      assert.equal(c.messages.find((m) => m.dead), undefined, 'no death while Redis answers');
      await network.b.freeze(); // its kernel still ACKs and answers keepalive probes
      const dead = await c.next('dead', heartbeat.interval + heartbeat.timeout + 5000);
      assert.ok(dead, 'reported dead');
      assert.equal(dead.reason, 'heartbeat');
      measured.push(`ioredis with heartbeat: frozen Redis dead (${dead.reason}) ${dead.silence} ms after its last reply (interval + timeout ${heartbeat.interval + heartbeat.timeout})`);
      // The monitor looks at an unanswered heartbeat every min(interval, timeout) / 10 = 50 ms.
      assert.ok(dead.silence !== null && dead.silence <= heartbeat.interval + heartbeat.timeout + TOLERANCE,
        `dead after ${dead.silence} ms without data; interval + timeout = ${heartbeat.interval + heartbeat.timeout} (+${TOLERANCE})`);
    });
  });
});
