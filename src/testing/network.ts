// Two test hosts joined by a cable: making them, and removing them however the run ends.
import { run } from './commands';
import { register, sweep, unregister } from './cleanup';
import { LINK, TestHost } from './host';

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

/** Two test hosts, `a` (10.231.0.1) and `b` (10.231.0.2), joined by a veth pair. */
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
  const names = [`${prefix}-${process.pid}-${n}a`, `${prefix}-${process.pid}-${n}b`];
  // Locally administered, so they can never be anyone else's.
  const macs = ['02:00:0a:e7:00:01', '02:00:0a:e7:00:02'];
  const a = new TestHost(names[0], '10.231.0.1', macs[0]);
  const b = new TestHost(names[1], '10.231.0.2', macs[1]);
  const network = new TestNetwork(a, b);
  register(network); // from the first namespace on, an exit removes what exists
  try {
    await serially(async () => {
      await run('ip', ['netns', 'add', a.name]);
      await run('ip', ['netns', 'add', b.name]);
    });
    // Made inside the namespaces: no end of the cable ever exists in the caller's namespace.
    await run('ip', [
      'link', 'add', LINK, 'netns', a.name, 'address', a.mac, 'type', 'veth',
      'peer', 'name', LINK, 'netns', b.name, 'address', b.mac,
    ]);
    await a.heal();
  } catch (err) {
    network.destroySync();
    throw err;
  }
  return network;
}
