// Two test hosts joined by a cable: making them, and removing them however the run ends.
import { run } from './commands';
import { register, sweep, unregister } from './cleanup';
import { TestHost } from './host';
import { addCable } from './links';
import { guard, pickSlot } from './reach';

let counter = 0;
let swept = false;

// One setup at a time: concurrent first uses of `ip netns add` race to set up /run/netns.
let setupQueue: Promise<unknown> = Promise.resolve();
function serially<T>(fn: () => Promise<T>): Promise<T> {
  const next = setupQueue.then(fn, fn);
  setupQueue = next.catch(() => {});
  return next;
}

export interface TestNetworkOptions {
  /** Names are `<prefix>-<pid>-<n>a` / `…b`; leftovers of dead processes are swept. Default 'tl'. */
  prefix?: string;
}

/**
 * Two test hosts, `a` and `b`, joined by a veth pair, each with an uplink to this process's
 * namespace: this process reaches both at their addresses.
 */
export class TestNetwork {
  readonly a: TestHost;
  readonly b: TestHost;
  #closed = false;

  /** @internal */
  constructor(a: TestHost, b: TestHost) {
    this.a = a;
    this.b = b;
    a.other = b;
    b.other = a;
  }

  /** This process's address on the test network (the source of its connects to the hosts). */
  get localAddress(): string {
    return this.a.local;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Removes both hosts: kills every process in them, closes every socket and server this
   * process got from them, aborts any connection still in their kernels and deletes the
   * namespaces (and with them the cable).
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    unregister(this);
    for (const host of [this.a, this.b]) host.release();
    await Promise.all([this.a, this.b].map((host) => host.destroy()));
  }

  /** @internal The same, synchronously, for process exit and signals. */
  destroySync(): void {
    if (this.#closed) return;
    this.#closed = true;
    unregister(this);
    for (const host of [this.a, this.b]) host.release();
    for (const host of [this.a, this.b]) host.destroySync();
  }
}

/**
 * Creates two test hosts joined by a cable. Close it with `network.close()`; if the process
 * exits or is interrupted first, the hosts are removed then, and a later run sweeps up after a
 * process that was killed outright.
 */
export async function createTestNetwork(options: TestNetworkOptions = {}): Promise<TestNetwork> {
  const prefix = options.prefix ?? 'tl';
  if (!/^[a-z][\w-]{0,15}$/i.test(prefix)) throw new RangeError(`prefix must be a short name, got ${JSON.stringify(prefix)}`);
  if (!swept) {
    swept = true;
    sweep(prefix);
  }
  const n = ++counter;
  const a = new TestHost(`${prefix}-${process.pid}-${n}a`, 'a');
  const b = new TestHost(`${prefix}-${process.pid}-${n}b`, 'b');
  const network = new TestNetwork(a, b);
  register(network); // from the first namespace on, an exit removes what exists
  try {
    const range = await guard((removeSync) => register({ destroySync: removeSync }));
    await serially(async () => {
      await run('ip', ['netns', 'add', a.name]);
      await run('ip', ['netns', 'add', b.name]);
    });
    await claimAddresses(range, a, b);
    await addCable(a, b);
    await a.heal();
  } catch (err) {
    network.destroySync();
    throw err;
  }
  return network;
}

/**
 * Gives the hosts a slot of addresses nobody else is using: the uplinks' names (which carry the
 * slot) are the claim, so two networks, in this process or another, never get the same one.
 */
async function claimAddresses(range: string, a: TestHost, b: TestHost): Promise<void> {
  const taken = new Set<number>();
  for (let tries = 0; tries < 64; tries++) {
    const slot = pickSlot(range, taken);
    if (await a.claim(slot)) {
      if (await b.claim(slot)) return;
      await a.unclaim();
    }
    taken.add(slot.slot);
  }
  throw new Error(`no free address slot in ${range} after 64 tries`);
}
