// Test hosts never outlive the run: not when it ends, not when it is interrupted or crashes, and
// what a process killed outright leaves behind is swept by the next one.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as readline from 'node:readline';
import { createTestNetwork, sweep } from '../../src/testing';
import { until } from '../helpers';
import { requireTestHosts } from './gate';

/** What a network holds: its namespaces, their processes, and here its uplinks and (per process) the guard route. */
interface Held { child: ChildProcess; namespaces: string[]; agents: number[]; uplinks: string[]; guard: string | null }

const children = new Set<ChildProcess>();

/** Starts fixtures/hold-network.ts and waits until its network exists. */
async function hold(mode: 'wait' | 'throw' | 'freeze'): Promise<Held> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'hold-network.ts'), mode], {
    cwd: join(__dirname, '..', '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const lines = readline.createInterface({ input: child.stdout! });
  const [line] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(() => { throw new Error(`the fixture exited early: ${stderr}`); }),
  ])) as [string];
  return { child, ...(JSON.parse(line) as Omit<Held, 'child'>) };
}

function namespaces(): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
}

/** Alive and not a zombie (an orphaned agent's remains wait for whoever reaps them). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Links in this namespace, by name. */
function links(): string[] {
  return (JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as Array<{ ifname: string }>).map((l) => l.ifname);
}

/** The routes in this namespace, as `ip route show` prints them. */
function routes(): string {
  return execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
}

type Holding = Omit<Held, 'child'>;

function left(held: Holding): string[] {
  const present = namespaces();
  const here = links();
  const table = routes();
  return [
    ...held.namespaces.filter((ns) => present.includes(ns)),
    ...held.agents.filter(running).map((pid) => `process ${pid}`),
    ...held.uplinks.filter((link) => here.includes(link)).map((link) => `link ${link}`),
    ...held.uplinks.filter((link) => table.includes(`dev ${link} `)).map((link) => `route via ${link}`),
    ...(held.guard && table.split('\n').some((route) => route.trim() === held.guard) ? [`route ${held.guard}`] : []),
  ];
}

/** SIGKILL takes effect a moment after it is sent: allow it that moment. */
async function assertGone(held: Holding): Promise<void> {
  const end = Date.now() + 2000;
  while (left(held).length > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(left(held), [], 'nothing is left behind');
}

describe('test hosts are always removed', function () {
  this.timeout(30_000);

  before(function () {
    requireTestHosts(this);
  });

  afterEach(() => {
    for (const child of children) child.kill('SIGKILL');
  });

  it('close() removes both namespaces (and with them the cable), every process in them, and their uplinks and routes here', async () => {
    const network = await createTestNetwork();
    const peer = await network.b.serve();
    const socket = await network.a.connect(peer.port);
    const held: Holding = {
      namespaces: [network.a.name, network.b.name],
      agents: [network.a.agentPid!, network.b.agentPid!],
      uplinks: [network.a.uplink, network.b.uplink],
      guard: null, // this process's guard stays until it exits: see the direct-reachability tests
    };
    assert.deepEqual(held.uplinks.filter((link) => links().includes(link)), held.uplinks);
    assert.match(routes(), new RegExp(`^${network.b.address.replace(/\./g, '\\.')} dev ${held.uplinks[1]} `, 'm'));
    assert.deepEqual(held.namespaces.filter((ns) => namespaces().includes(ns)), held.namespaces);
    await network.b.freeze(); // even a frozen host
    await network.close();
    assert.equal(socket.destroyed, true, 'sockets handed out are closed');
    await assertGone(held);
  });

  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`an interrupted run (${sig}) removes its hosts and still dies of the signal`, async () => {
      const held = await hold('wait');
      held.child.kill(sig);
      const [code, signal] = (await once(held.child, 'exit')) as [number | null, NodeJS.Signals | null];
      assert.deepEqual([code, signal], [null, sig]);
      await assertGone(held);
    });
  }

  it('a run that crashes (uncaught exception) removes its hosts on exit', async () => {
    const held = await hold('throw');
    const [code] = (await once(held.child, 'exit')) as [number | null];
    assert.equal(code, 1);
    await assertGone(held);
  });

  it('after a run killed outright (SIGKILL), its agents exit and the next run sweeps its namespaces (frozen processes included), uplinks and guard route', async () => {
    const held = await hold('freeze');
    held.child.kill('SIGKILL');
    await once(held.child, 'exit');
    // The running agent sees its channel close and exits; the frozen one cannot.
    await until(() => !running(held.agents[0]), 5000, 'the agent to exit');
    assert.equal(running(held.agents[1]), true, 'the frozen agent is still there');
    assert.deepEqual(held.namespaces.filter((ns) => namespaces().includes(ns)), held.namespaces);
    assert.deepEqual(held.uplinks.filter((link) => links().includes(link)), held.uplinks, 'its uplinks are still here');
    assert.ok(held.guard && routes().split('\n').some((route) => route.trim() === held.guard), 'its guard route is still here');
    const removed = sweep();
    assert.deepEqual(held.namespaces.filter((ns) => removed.includes(ns)), held.namespaces);
    assert.ok(removed.includes(`route ${held.guard}`), `the guard is among what was swept: ${removed.join(', ')}`);
    await assertGone(held);
  });
});
