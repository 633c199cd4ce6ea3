// A test host: a network namespace with its links (links.ts) and its agent, and everything a test
// does to it: sockets in it for this process, the peer program, and the faults (blackhole,
// freeze, kill, reboot).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as net from 'node:net';
import { Agent } from './agent';
import { destroyNamespaceSync } from './cleanup';
import { abortTcp, pids, run, signal, sleep, stopped } from './commands';
import { addUplink, linksDown, linksUp, removeUplink, removeUplinkSync, type Wiring } from './links';
import { macOf, uplinkName, type Slot } from './reach';
import { asUser, startService, type Service, type ServiceOptions } from './service';
import { peerConnection, peerServer, type PeerConnection, type PeerOptions, type PeerServer } from './peer';
import type { ConnectionInfo } from './testing-agent';

export interface TcpSocketEntry {
  /** As ss names it: 'ESTAB', 'CLOSE-WAIT', 'LISTEN', 'TIME-WAIT', ... */
  state: string;
  recvQ: number;
  sendQ: number;
  local: string;
  peer: string;
}

export interface ConnectOptions {
  /** Default: the other host's address. */
  host?: string;
  /**
   * Node never reads from the socket (as a server's pauseOnConnect): a FIN, an RST or an error
   * stays in the kernel for the code under test (a LivenessMonitor) to find. Default false.
   */
  pauseOnConnect?: boolean;
}

export interface ListenOptions {
  /** Default 0: a free port. */
  port?: number;
  /** The server to listen with (an http.Server works too). Default: a new net.Server. */
  server?: net.Server;
  backlog?: number;
}

/** One side of a TestNetwork: a network namespace, its links and its agent. */
export class TestHost implements Wiring {
  /** The network namespace's name (`ip netns exec <name> …`). */
  readonly name: string;
  /** 'a' or 'b'. */
  readonly side: 'a' | 'b';
  /** The other host. */
  other!: TestHost;
  #slot: Slot | null = null;
  #uplinked = false;
  #agent: Agent | null = null;
  #starting: Promise<Agent> | null = null;
  readonly #owned = new Set<net.Socket | net.Server>();
  readonly #spawned = new Set<ChildProcess>();

  /** @internal */
  constructor(name: string, side: 'a' | 'b') {
    this.name = name;
    this.side = side;
  }

  /**
   * @internal Gives the host its network's addresses and makes its uplink; false (and no
   * addresses) when another network holds the slot.
   */
  async claim(slot: Slot): Promise<boolean> {
    this.#slot = slot;
    this.#uplinked = await addUplink(this).catch((err) => {
      this.#slot = null;
      throw err;
    });
    if (!this.#uplinked) this.#slot = null;
    return this.#uplinked;
  }

  /** @internal Gives up the slot and removes the uplink. */
  async unclaim(): Promise<void> {
    if (this.#uplinked) await removeUplink(this.uplink);
    this.#uplinked = false;
    this.#slot = null;
  }

  get #addresses(): Slot {
    if (!this.#slot) throw new Error(`test host ${this.name} has no address yet`);
    return this.#slot;
  }

  /**
   * This host's IPv4 address: it exists only on the test network, and this process reaches it
   * directly (any connect to it, from any library, arrives here).
   */
  get address(): string {
    return this.#addresses[this.side];
  }

  /** This process's address on the test network, as this host sees it. */
  get local(): string {
    return this.#addresses.local;
  }

  /** The MAC address of its end of the cable. */
  get mac(): string {
    return macOf(0, this.address);
  }

  /** @internal The MAC of its end of the uplink. */
  get uplinkMac(): string {
    return macOf(1, this.address);
  }

  /** @internal The MAC of this namespace's end of the uplink. */
  get localMac(): string {
    return macOf(2, this.address);
  }

  /** The uplink's name in this process's namespace (`tl-<slot>a` / `…b`). */
  get uplink(): string {
    return uplinkName(this.#addresses.slot, this.side);
  }

  async #agentNow(): Promise<Agent> {
    if (this.#agent?.running) return this.#agent;
    this.#starting ??= Agent.start(this.name).then(
      (agent) => { this.#agent = agent; this.#starting = null; return agent; },
      (err) => { this.#starting = null; throw err; },
    );
    return this.#starting;
  }

  /** Starts the host's agent (the peer program) if it is not running; other calls start it as needed. */
  async start(): Promise<void> {
    await this.#agentNow();
  }

  /** The agent's pid, or null when it is not running. */
  get agentPid(): number | null {
    return this.#agent?.running ? this.#agent.pid : null;
  }

  /**
   * A net.Socket in this process whose kernel socket is in this host, connected to `port` on
   * the other host (or `options.host`).
   */
  async connect(port: number, options: ConnectOptions = {}): Promise<net.Socket> {
    const agent = await this.#agentNow();
    const { handle } = await agent.request({
      op: 'connect', host: options.host ?? this.other.address, port, handover: true, behavior: 'paused',
    });
    const socket = new net.Socket({
      handle, readable: true, writable: true, pauseOnCreate: options.pauseOnConnect ?? false,
    } as net.SocketConstructorOpts);
    this.#own(socket);
    return socket;
  }

  /**
   * Makes `server` (default: a new net.Server) listen in this host on its address, and returns
   * it: the code under test accepts here, in this process.
   */
  async listen(options: ListenOptions = {}): Promise<net.Server> {
    const { port = 0, server = net.createServer(), backlog = 511 } = options;
    const agent = await this.#agentNow();
    const { handle } = await agent.request({ op: 'listen', host: this.address, port, handover: true, behavior: 'paused', backlog });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(handle as net.ListenOptions, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#own(server);
    return server;
  }

  /** The host's agent listens on `port` (default: a free one) as the peer. */
  async serve(options: PeerOptions & { port?: number } = {}): Promise<PeerServer> {
    const agent = await this.#agentNow();
    const { result } = await agent.request({
      op: 'listen', host: this.address, port: options.port ?? 0, handover: false, behavior: options.behavior ?? 'echo', backlog: 511,
    });
    const { server, port } = result as { server: number; port: number };
    return peerServer(agent, server, port);
  }

  /** The host's agent connects to `port` on the other host (or `options.host`) as the peer. */
  async dial(port: number, options: PeerOptions & { host?: string } = {}): Promise<PeerConnection> {
    const agent = await this.#agentNow();
    const { result } = await agent.request({
      op: 'connect', host: options.host ?? this.other.address, port, handover: false, behavior: options.behavior ?? 'echo',
    });
    return peerConnection(agent, result as ConnectionInfo);
  }

  /**
   * The host vanishes from the network: its cable and its uplink go down. Nothing it sends
   * leaves and nothing reaches it: no FIN, no RST, no ICMP, so the other host and this process
   * hear silence. Resolves with performance.now() at the moment it went down, once their
   * kernels have taken in the lost carrier.
   */
  blackhole(): Promise<number> {
    return linksDown(this, this.other);
  }

  /**
   * The cable and the uplink are back: the links go up, and the addresses, routes and
   * neighbour entries a link loses when it goes down are put back (on both hosts and here).
   * Returns performance.now() once all are up.
   */
  async heal(): Promise<number> {
    await linksUp(this, this.other);
    return performance.now();
  }

  /**
   * Freezes every process in the host (SIGSTOP): its kernel still acknowledges and answers
   * keepalive probes, but the program does nothing. Returns performance.now() once all are stopped.
   */
  async freeze(): Promise<number> {
    const all = await pids(this.name);
    for (const pid of all) signal(pid, 'SIGSTOP');
    const end = Date.now() + 5000;
    while (!all.every(stopped)) {
      if (Date.now() > end) throw new Error(`processes in ${this.name} did not stop`);
      await sleep(2);
    }
    return performance.now();
  }

  /** Resumes every process in the host (SIGCONT). */
  async thaw(): Promise<number> {
    for (const pid of await pids(this.name)) signal(pid, 'SIGCONT');
    return performance.now();
  }

  /**
   * Kills every process in the host (default SIGKILL) and waits until they are gone; their
   * kernel closes their connections as it does for any dead process (FIN, or RST when data
   * was unread). The agent starts again on next use. Resolves, once all are gone, with
   * performance.now() at the moment the signal was sent.
   */
  async kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<number> {
    const all = await pids(this.name);
    for (const pid of all) signal(pid, sig);
    const sent = performance.now();
    const agent = this.#agent;
    this.#agent = null;
    if (agent) await agent.exited;
    const end = Date.now() + 5000;
    while ((await pids(this.name)).length > 0) {
      if (Date.now() > end) throw new Error(`processes in ${this.name} did not exit`);
      await sleep(5);
    }
    return sent;
  }

  /**
   * The host reboots while cut off: the cable goes down, every process dies, its kernel forgets
   * every TCP connection without a word on the wire, the agent starts afresh and the cable
   * comes back. The other side's next packet on an old connection draws an RST.
   */
  async reboot(): Promise<{ down: number; up: number }> {
    const down = await this.blackhole();
    await this.kill();
    await abortTcp(this.name);
    const left = await this.sockets();
    if (left.length > 0) {
      throw new Error(`${this.name} still holds TCP sockets after a reboot: ${left.map((s) => `${s.state} ${s.local} ${s.peer}`).join(', ')}`);
    }
    await this.start();
    const up = await this.heal();
    return { down, up };
  }

  /** The TCP sockets this host's kernel holds now (ss -tan in the host). */
  async sockets(): Promise<TcpSocketEntry[]> {
    const out = await run('ss', ['-N', this.name, '-tanH']);
    return out.split('\n').filter(Boolean).map((line) => {
      const [state, recvQ, sendQ, local, peer] = line.trim().split(/\s+/);
      return { state, recvQ: Number(recvQ), sendQ: Number(sendQ), local, peer };
    });
  }

  /** Runs a command in the host (as `options.user`, if given) and returns its stdout. */
  exec(command: string, args: readonly string[] = [], options: { user?: string } = {}): Promise<string> {
    return run('ip', ['netns', 'exec', this.name, ...(options.user ? asUser(options.user) : []), command, ...args]);
  }

  /**
   * Starts a program in the host (your own peer or service), as `options.user` if given. It is
   * frozen, thawed and killed with the host, and killed when the network closes.
   */
  spawn(command: string, args: readonly string[] = [], options: SpawnOptions & { user?: string } = {}): ChildProcess {
    const { user, ...spawnOptions } = options;
    // `ip netns exec`, setpriv and unshare exec the program in place: the child's pid is the program's own.
    const child = spawn('ip', ['netns', 'exec', this.name, ...(user ? asUser(user) : []), command, ...args], spawnOptions);
    this.#spawned.add(child);
    child.once('exit', () => this.#spawned.delete(child));
    return child;
  }

  /**
   * Starts a server in the host and resolves once `options.port` on this host's address accepts
   * connections (from this process, directly). Rejects with the end of its output if it exits
   * first or the port is not open within `options.timeout` ms.
   */
  async service(command: string, args: readonly string[], options: ServiceOptions): Promise<Service> {
    const child = this.spawn(command, args, { user: options.user, env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    return startService(child, command, this.address, options);
  }

  #own(x: net.Socket | net.Server): void {
    this.#owned.add(x);
    x.once('close', () => this.#owned.delete(x));
  }

  /**
   * @internal Removes the host: every process in it (waiting until they are gone), every TCP
   * socket left in its kernel, and the namespace with its end of the cable.
   */
  async destroy(): Promise<void> {
    this.release();
    await this.kill().catch(() => {});
    await abortTcp(this.name).catch(() => {});
    // Deleting the namespace would take its uplink with it, but only once the kernel gets to it.
    if (this.#uplinked) await removeUplink(this.uplink);
    await run('ip', ['netns', 'del', this.name]);
  }

  /** @internal The same without waiting, for process exit and signals. */
  destroySync(): void {
    this.release();
    if (this.#uplinked) removeUplinkSync(this.uplink);
    destroyNamespaceSync(this.name);
  }

  /** @internal Lets go of everything this process holds in the host. */
  release(): void {
    for (const x of this.#owned) {
      if (x instanceof net.Server) x.close();
      else x.destroy();
    }
    this.#owned.clear();
    for (const child of this.#spawned) {
      child.unref();
      child.channel?.unref?.();
    }
    this.#spawned.clear();
    this.#agent?.child.unref();
    this.#agent = null;
  }
}

