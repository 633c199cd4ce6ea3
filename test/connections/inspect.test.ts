// `tcp-liveness inspect` from a user's seat: on the user's own process without root, refused on
// another user's, on a pid that does not exist, on a process with no sockets, on one with many,
// and while sockets come and go under the dump; its JSON as a script and as a person read it.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { EXIT, main } from '../../src/cli/inspect';
import { inspect, type Inventory } from './run';
import { notHere } from '../netns/gate';

const FIXTURE = join(__dirname, 'fixtures', 'hold-loopback.js');
const children = new Set<ChildProcess>();

/** Starts the fixture (as `user` when given) and resolves with what it says once ready. */
async function hold(mode: string, user?: string): Promise<{ pid: number; port: number; client: number }> {
  const [cmd, args] = user ? ['runuser', ['-u', user, '--', process.execPath, FIXTURE, mode]] : [process.execPath, [FIXTURE, mode]];
  // runuser's own stderr says "Session terminated" when the test ends it: not worth showing.
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', user ? 'ignore' : 'inherit'] });
  children.add(child);
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return JSON.parse(line);
}

function canRunAs(user: string): boolean {
  return process.getuid?.() === 0 && spawnOk('runuser', ['-u', user, '--', 'true']);
}

function spawnOk(cmd: string, args: string[]): boolean {
  try {
    require('node:child_process').execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('tcp-liveness inspect', function () {
  this.timeout(30_000);

  afterEach(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        // runuser passes SIGTERM on to the fixture it started.
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    }
    children.clear();
  });

  it("inspects the user's own process without root", async function () {
    if (!canRunAs('nobody')) notHere(this, 'inspect as an ordinary user', 'this needs root and runuser');
    const held = await hold('hold', 'nobody');
    const run = await inspect(['inspect', '--json', String(held.pid)], 'nobody');
    assert.equal(run.code, EXIT.ok, run.stderr);
    const inv: Inventory = JSON.parse(run.stdout);
    assert.deepEqual(inv.summary.states, { ESTABLISHED: 2 });
    assert.deepEqual(inv.summary.verdicts, { dead: 0, 'close-wait-leak': 0, stalled: 0, unguarded: 2, ok: 0 });
    assert.deepEqual(inv.connections.map((c) => c.localPort).sort(), [held.port, held.client].sort());
    assert.deepEqual(inv.listeners.map((l) => l.localPort), [held.port]);
    // The owner may borrow its own process's fds: keepalive settings read back, not guessed.
    for (const c of inv.connections) assert.equal(c.keepAlive?.enable, false);
    for (const c of inv.connections) assert.match(c.reason, /no keepalive and no user timeout/);
  });

  it("refuses another user's process, saying why", async function () {
    if (!canRunAs('nobody')) notHere(this, 'inspect as an ordinary user', 'this needs root and runuser');
    const held = await hold('hold'); // root's
    const run = await inspect(['inspect', String(held.pid)], 'nobody');
    assert.equal(run.code, EXIT.notPermitted);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, new RegExp(`^tcp-liveness: not permitted to inspect process ${held.pid}: it belongs to another user`));
  });

  it('finds from outside a connection the kernel ended while the process still holds it', async () => {
    const held = (await hold('dead')) as { pid: number; dead?: number };
    const run = await inspect(['inspect', '--json', String(held.pid)]);
    assert.equal(run.code, EXIT.ok, run.stderr);
    const inv: Inventory & { connections: Array<{ seen?: string }> } = JSON.parse(run.stdout);
    assert.equal(inv.summary.verdicts.dead, 1);
    const [dead] = inv.connections.filter((c) => c.verdict === 'dead');
    assert.equal(dead.state, 'CLOSE');
    assert.equal(dead.localPort, held.dead);
    assert.equal(dead.seen, 'fd'); // gone from the kernel's tables: read on a duplicate of its fd
    assert.equal(inv.connections[0], dead); // worst first
  });

  it('reads every socket of a process with over a thousand fds, each with its own keepalive settings', async () => {
    const held = (await hold('many')) as { pid: number; port: number; client: number; many: Array<[number, number]> };
    const run = await inspect(['inspect', '--json', String(held.pid)]);
    assert.equal(run.code, EXIT.ok, run.stderr);
    const inv: Inventory = JSON.parse(run.stdout);
    // Past native/fds_linux.cc's kSplitAbove (1024): two threads share the walk of its fds.
    assert.ok(inv.summary.fds > 1024, `${inv.summary.fds} fds`);
    const pairs = held.many.length + 1;
    assert.deepEqual(inv.summary.states, { ESTABLISHED: 2 * pairs });
    assert.equal(inv.connections.length, 2 * pairs);
    assert.equal(new Set(inv.connections.map((c) => c.fd)).size, 2 * pairs);
    const clients = new Map(inv.connections.filter((c) => c.localPort !== held.port).map((c) => [c.localPort, c]));
    assert.equal(clients.size, pairs);
    for (const [port, idle] of held.many) {
      const c = clients.get(port);
      assert.deepEqual([c?.keepAlive?.enable, c?.keepAlive?.idle], [true, idle], `client port ${port}`);
    }
    assert.equal(clients.get(held.client)?.keepAlive?.enable, false);
    const accepted = inv.connections.filter((c) => c.localPort === held.port);
    assert.equal(accepted.length, pairs);
    for (const c of accepted) assert.equal(c.keepAlive?.enable, false, `accepted fd ${c.fd}`);
  });

  it('writes --json on one line to a pipe, for scripts, and indented to a terminal, for a person', async () => {
    const held = await hold('hold');
    const piped = await inspect(['inspect', '--json', String(held.pid)]);
    assert.equal(piped.code, EXIT.ok, piped.stderr);
    assert.match(piped.stdout, /^\{"summary":\{[^\n]*\}\n$/);
    const printed: string[] = [];
    const terminal = { isTTY: true, write: (s: string) => printed.push(s) } as unknown as NodeJS.WriteStream;
    assert.equal(await main(['inspect', '--json', String(held.pid)], terminal), EXIT.ok);
    const shown = printed.join('');
    assert.match(shown, /^\{\n {2}"summary": \{\n {4}"pid": /);
    assert.deepEqual((JSON.parse(shown) as Inventory).summary, (JSON.parse(piped.stdout) as Inventory).summary);
  });

  it('says so for a pid that does not exist', async () => {
    // A pid above pid_max can never exist.
    const run = await inspect(['inspect', '--json', '99999999']);
    assert.equal(run.code, EXIT.noProcess);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, 'tcp-liveness: no process with pid 99999999\n');
  });

  it('reports a process with no TCP sockets as an empty inventory', async () => {
    const child = spawn('sleep', ['30']);
    children.add(child);
    const json = await inspect(['inspect', '--json', String(child.pid)]);
    assert.equal(json.code, EXIT.ok, json.stderr);
    const inv: Inventory = JSON.parse(json.stdout);
    assert.deepEqual(inv.connections, []);
    assert.deepEqual(inv.summary.states, {});
    assert.ok(inv.summary.fds >= 3);
    const table = await inspect(['inspect', String(child.pid)]);
    assert.match(table.stdout, /no TCP connections\n$/);
  });

  it('gives a whole, consistent inventory while connections open and close during the dump', async () => {
    const held = await hold('churn');
    for (let i = 0; i < 8; i++) {
      const run = await inspect(['inspect', '--json', String(held.pid)]);
      assert.equal(run.code, EXIT.ok, run.stderr);
      const inv: Inventory = JSON.parse(run.stdout);
      // The long-lived pair is always there, and the summary adds up to the list it came with.
      const ports = inv.connections.filter((c) => c.state === 'ESTABLISHED').map((c) => c.localPort);
      assert.ok(ports.includes(held.port) && ports.includes(held.client), JSON.stringify(ports));
      const total = Object.values(inv.summary.verdicts).reduce((a, b) => a + b, 0);
      assert.equal(total, inv.connections.length);
    }
  });

  it('refuses bad usage with the usage text', async () => {
    for (const args of [['inspect', '--watch'], ['inspect', '--stalled', '-5'], ['inspect', '12', '13'], ['list']]) {
      const run = await inspect(args);
      assert.equal(run.code, EXIT.usage, args.join(' '));
      assert.match(run.stderr, /^tcp-liveness: .+\nusage: tcp-liveness inspect/, args.join(' '));
    }
  });

  it('lists Node processes to pick from when no pid is given', async () => {
    const held = await hold('hold');
    const run = await inspect(['inspect']);
    assert.equal(run.code, EXIT.ok, run.stderr);
    // Each command line is cut to 80 characters: under a long Node path the fixture's name is cut.
    const command = `${process.execPath} ${FIXTURE} hold`.slice(0, 80).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(run.stdout, new RegExp(`^\\s+${held.pid}  ${command}$`, 'm'));
  });

  it('refreshes with --watch until stopped', async () => {
    const held = await hold('hold');
    const child = spawn(process.execPath, [join(__dirname, '..', '..', 'bin', 'tcp-liveness.js'), 'inspect', '--json', '--watch', '200', String(held.pid)]);
    children.add(child);
    const lines = createInterface({ input: child.stdout! });
    let count = 0;
    for await (const line of lines) {
      assert.deepEqual((JSON.parse(line) as Inventory).summary.states, { ESTABLISHED: 2 });
      if (++count === 3) break;
    }
    // The process it watches goes away: it says so and stops.
    const watched = [...children].find((c) => c !== child)!;
    watched.kill('SIGKILL');
    const [code] = await once(child, 'exit');
    assert.equal(code, EXIT.noProcess);
  });
});
