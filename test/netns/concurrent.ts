// Namespace cases that run at once, each in its own pair of hosts: a suite takes as long as its
// longest case, not the sum. Declare the cases with `concurrent.it`, start them all in a `before`
// with `concurrent.start()`, and `await concurrent.settled()` in `after` before closing anything.
import { LivenessMonitor, type MonitorOptions } from '../../src';
import { createTestNetwork, type TestNetwork } from '../../src/testing';

interface Case { run: () => Promise<void>; promise?: Promise<void> }

export class Concurrent {
  readonly #cases: Case[] = [];
  readonly #networks = new Set<TestNetwork>();
  readonly #monitors = new Set<LivenessMonitor>();

  /** Declares a case: it starts with all the others, and its mocha `it` awaits it. */
  it(title: string, run: () => Promise<void>): void {
    const c: Case = { run };
    this.#cases.push(c);
    it(title, () => this.#start(c));
  }

  start(): void {
    for (const c of this.#cases) this.#start(c);
  }

  /** Waits for every case, then closes every monitor and network they left. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.#cases.map((c) => c.promise));
    for (const m of this.#monitors) m.close();
    await Promise.all([...this.#networks].map((n) => n.close()));
  }

  /** A monitor closed when the suite ends. */
  monitor(options?: MonitorOptions): LivenessMonitor {
    const m = new LivenessMonitor(options);
    this.#monitors.add(m);
    return m;
  }

  /** Runs `fn` in its own pair of hosts, removed when it ends however it ends. */
  async withNetwork(fn: (network: TestNetwork) => Promise<void>): Promise<void> {
    const network = await createTestNetwork();
    this.#networks.add(network);
    try {
      await fn(network);
    } finally {
      await network.close();
      this.#networks.delete(network);
    }
  }

  #start(c: Case): Promise<void> {
    if (!c.promise) {
      c.promise = c.run();
      c.promise.catch(() => {}); // reported by its own `it`
    }
    return c.promise;
  }
}
