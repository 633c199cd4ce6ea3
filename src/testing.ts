// tcp-liveness/testing: two test hosts joined by a cable, on the real kernel TCP stack, so a
// test can make a connection die every way it dies in production (the peer closes, resets,
// crashes, freezes, vanishes, comes back without the connection, stops reading) and assert how
// fast and why it is noticed.
//
// A host is a network namespace with one end of a veth pair, addressed only inside the pair
// (10.231.0.1/30 and 10.231.0.2/30), so no packet can leave it. Node cannot enter a namespace,
// so each host runs a small agent (`ip netns exec <host> node testing-agent.js`): it makes the
// sockets that must live in the host and hands them to this process over the IPC channel, and
// it is the peer program that the faults are done to. The code under test runs here, on
// ordinary net.Socket and net.Server objects whose kernel sockets are in the host.
import { AssertionError } from 'node:assert';
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { reasonOf, tcpInfo, type KeepAliveOptions, type TcpInfo } from './core';
import type { DeadReason, LivenessMonitor } from './monitor';
import type { AgentReply, AgentRequest, Behavior, ConnectionInfo, ConnectionStats } from './testing-agent';

export type { Behavior, ConnectionStats } from './testing-agent';

// ---- can this machine make test hosts? ----

const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;

function commandWorks(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Why test hosts cannot be made here, in one line, or null when they can: Linux, root (network
 * namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN), and iproute2's `ip` and `ss`.
 */
export function unsupportedReason(): string | null {
  if (process.platform !== 'linux') return `test hosts need Linux network namespaces; this is ${process.platform}`;
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  const caps = capEff ? BigInt(`0x${capEff[1]}`) : 0n;
  if (((caps >> CAP_SYS_ADMIN) & 1n) === 0n || ((caps >> CAP_NET_ADMIN) & 1n) === 0n) {
    return 'test hosts need root (CAP_SYS_ADMIN and CAP_NET_ADMIN) to create network namespaces';
  }
  if (!commandWorks('ip', ['-V'])) return 'test hosts need the `ip` command (iproute2), which is not installed';
  if (!commandWorks('ss', ['-V'])) return 'test hosts need the `ss` command (iproute2), which is not installed';
  const probe = `tl-${process.pid}-probe`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    return `test hosts need network namespaces, and \`ip netns add\` failed here: ${stderr || (err as Error).message}`;
  }
  commandWorks('ip', ['netns', 'del', probe]);
  return null;
}

// ---- running commands ----

function run(command: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** `ip -n <ns> -batch -`: one process for a list of commands in one namespace. */
function ipBatch(ns: string, lines: readonly string[]): Promise<string> {
  return run('ip', ['-n', ns, '-batch', '-'], `${lines.join('\n')}\n`);
}

function pidsSync(ns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function pids(ns: string): Promise<number[]> {
  try {
    return (await run('ip', ['netns', 'pids', ns])).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function stopped(pid: number): boolean {
  try {
    // The state follows the command name, which is in parentheses and may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^[tT]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return true; // gone counts as not running
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- the agent ----

/** How to start testing-agent: from dist/ with plain node, or from the sources through tsx. */
function agentCommand(): { args: string[]; cwd: string } {
  const js = join(__dirname, 'testing-agent.js');
  if (existsSync(js)) return { args: [process.execPath, js], cwd: __dirname };
  // This file is running from src/ (the package's own tests, under tsx): use the build of the
  // same source when it is current, since a dozen agents loading tsx at once take seconds.
  const ts = join(__dirname, 'testing-agent.ts');
  const built = join(__dirname, '..', 'dist', 'testing-agent.js');
  if (existsSync(built) && statSync(built).mtimeMs >= statSync(ts).mtimeMs) return { args: [process.execPath, built], cwd: __dirname };
  return { args: [process.execPath, '--import', 'tsx', ts], cwd: join(__dirname, '..') };
}

/** How long an agent may take to answer before the request fails (a frozen agent never does). */
const AGENT_TIMEOUT = 15_000;

type Request = AgentRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

class Agent {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (v: { result: unknown; handle: unknown }) => void; reject: (e: Error) => void }>();
  #gone: Error | null = null;

  private constructor(readonly host: string) {
    const { args, cwd } = agentCommand();
    this.child = spawn('ip', ['netns', 'exec', host, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], cwd });
    this.exited = new Promise((resolve) => {
      const gone = (why: string) => {
        if (this.#gone) return;
        this.#gone = new Error(`the agent in test host ${host} ${why}`);
        for (const p of this.#pending.values()) p.reject(this.#gone);
        this.#pending.clear();
        resolve();
      };
      this.child.once('exit', (code, sig) => gone(`exited (${sig ?? `code ${code}`})`));
      this.child.on('error', (err) => gone(`could not be run: ${err.message}`));
    });
    this.child.on('message', (reply: AgentReply, handle: unknown) => {
      const p = this.#pending.get(reply.id);
      if (!p) return;
      this.#pending.delete(reply.id);
      this.#idle();
      if (reply.ok) p.resolve({ result: reply.result, handle });
      else p.reject(Object.assign(new Error(`${host}: ${reply.error.message}`), reply.error.code ? { code: reply.error.code } : {}));
    });
  }

  /** Starts an agent in the host and waits until it answers. */
  static async start(host: string): Promise<Agent> {
    const agent = new Agent(host);
    // Its first message (id 0) says it is ready.
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        agent.#pending.set(0, { resolve: () => resolve(), reject });
        timer = setTimeout(() => reject(new Error(`the agent in test host ${host} did not start within ${AGENT_TIMEOUT} ms`)), AGENT_TIMEOUT);
      });
    } catch (err) {
      agent.child.kill('SIGKILL');
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return agent;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.#gone === null;
  }

  request(req: Request): Promise<{ result: unknown; handle: unknown }> {
    if (this.#gone) return Promise.reject(this.#gone);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        this.#idle();
        reject(new Error(`the agent in test host ${this.host} did not answer ${req.op} within ${AGENT_TIMEOUT} ms (is the host frozen?)`));
      }, AGENT_TIMEOUT);
      this.#pending.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      // Holds the event loop only while an answer is awaited: a network left open never keeps
      // the process alive (the exit handler removes it).
      (this.child.channel as unknown as { ref(): void } | undefined)?.ref();
      this.child.ref();
      this.child.send({ ...req, id } as AgentRequest);
    });
  }

  #idle(): void {
    if (this.#pending.size > 0) return;
    (this.child.channel as unknown as { unref(): void } | undefined)?.unref();
    this.child.unref();
  }
}

// ---- the registry that guarantees cleanup ----

const live = new Set<TestNetwork>();
let counter = 0;
let swept = false;
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function onExit(): void {
  for (const network of [...live]) network.destroySync();
}

function onSignal(sig: NodeJS.Signals): void {
  onExit();
  // Die of the signal as if we had never listened, unless someone else handles it.
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

function watchProcess(on: boolean): void {
  if (on) {
    process.on('exit', onExit);
    for (const sig of SIGNALS) process.on(sig, onSignal);
  } else {
    process.off('exit', onExit);
    for (const sig of SIGNALS) process.off(sig, onSignal);
  }
}

function listNamespaces(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
  } catch {
    return [];
  }
}

/** Kills every process in a namespace, aborts every TCP socket left in it and deletes it. */
function destroyNamespaceSync(ns: string): void {
  for (const pid of pidsSync(ns)) signal(pid, 'SIGKILL');
  // Orphaned sockets (a FIN still unacknowledged) would keep the namespace, and its veth,
  // alive for minutes after the name is gone.
  commandWorks('ss', ['-N', ns, '-K', '-t', '-a']);
  commandWorks('ip', ['netns', 'del', ns]);
}

/**
 * Removes the hosts a crashed run left behind: namespaces named `<prefix>-<pid>-…` whose
 * process is gone, with every process still in them. Hosts of running processes are left alone.
 * Returns the names removed. createTestNetwork() does this once per process.
 */
export function sweep(prefix = 'tl'): string[] {
  const pattern = new RegExp(`^${prefix.replace(/[^\w-]/g, '\\$&')}-(\\d+)-`);
  const removed: string[] = [];
  for (const ns of listNamespaces()) {
    const m = pattern.exec(ns);
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    destroyNamespaceSync(ns);
    removed.push(ns);
  }
  return removed;
}

/** Network namespaces this process has made and not yet removed (for leak checks). */
export function liveNamespaces(prefix = 'tl'): string[] {
  return listNamespaces().filter((ns) => ns.startsWith(`${prefix}-${process.pid}-`));
}

// One setup at a time: concurrent first uses of `ip netns add` race to set up /run/netns.
let setupQueue: Promise<unknown> = Promise.resolve();
function serially<T>(fn: () => Promise<T>): Promise<T> {
  const next = setupQueue.then(fn, fn);
  setupQueue = next.catch(() => {});
  return next;
}

// ---- hosts ----

const LINK = 'veth0';
const SUBNET = 30;

/** The link's operational state as the kernel reports it ('UP', 'DOWN', 'LOWERLAYERDOWN', …). */
async function operstate(ns: string): Promise<string> {
  const [link] = JSON.parse(await run('ip', ['-n', ns, '-j', 'link', 'show', LINK])) as Array<{ operstate: string }>;
  return link.operstate;
}

async function waitForState(ns: string, done: (state: string) => boolean, what: string): Promise<void> {
  const end = Date.now() + 5000;
  for (;;) {
    const state = await operstate(ns);
    if (done(state)) return;
    if (Date.now() > end) throw new Error(`${ns}: the link did not ${what} (it is ${state})`);
    await sleep(10);
  }
}

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

export interface PeerOptions {
  /** 'echo' (default) writes back what it reads; 'sink' reads and drops; 'paused' never reads. */
  behavior?: Behavior;
}

/** A connection the host's agent (the peer program) holds. */
export interface PeerConnection {
  /** The peer's port. */
  readonly localPort: number;
  /** The port of the other end (a socket in this process, or in the other host). */
  readonly remotePort: number;
  readonly remoteAddress: string;
  /** Writes data to the connection. */
  write(data: string | Uint8Array): Promise<void>;
  /** Closes it gracefully: the other side sees a FIN. */
  end(): Promise<void>;
  /** Aborts it: the other side sees an RST (ECONNRESET). */
  reset(): Promise<void>;
  /** Stops reading: once the peer's buffers fill, its kernel advertises a zero window. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Bytes received and sent by the peer, and its view of the connection's state. */
  stats(): Promise<ConnectionStats>;
}

/** A listening socket of the host's agent. */
export interface PeerServer {
  readonly port: number;
  /**
   * The peer's end of a connection it accepted: the one from `from` (the local socket, or its
   * port), or the latest one. Waits up to `timeout` ms (default 5000) for it to arrive.
   */
  accepted(from?: net.Socket | number, timeout?: number): Promise<PeerConnection>;
  close(): Promise<void>;
}

function peerConnection(agent: Agent, info: ConnectionInfo): PeerConnection {
  const act = async (op: 'end' | 'reset' | 'pause' | 'resume' | 'stats') => (await agent.request({ op, conn: info.conn })).result;
  return {
    localPort: info.localPort,
    remotePort: info.remotePort,
    remoteAddress: info.remoteAddress,
    write: async (data) => {
      await agent.request({ op: 'write', conn: info.conn, data: Buffer.from(data).toString('base64') });
    },
    end: async () => { await act('end'); },
    reset: async () => { await act('reset'); },
    pause: async () => { await act('pause'); },
    resume: async () => { await act('resume'); },
    stats: async () => (await act('stats')) as ConnectionStats,
  };
}

function peerServer(agent: Agent, server: number, port: number): PeerServer {
  return {
    port,
    accepted: async (from, timeout = 5000) => {
      const remotePort = from === undefined ? null : typeof from === 'number' ? from : from.localPort!;
      const { result } = await agent.request({ op: 'accepted', server, remotePort, timeout });
      return peerConnection(agent, result as ConnectionInfo);
    },
    close: async () => { await agent.request({ op: 'close-server', server }); },
  };
}

/** One side of a TestNetwork: a network namespace, its end of the cable and its agent. */
export class TestHost {
  /** The network namespace's name (`ip netns exec <name> …`). */
  readonly name: string;
  /** This host's IPv4 address, which exists only inside the test network. */
  readonly address: string;
  /** The MAC address of its end of the cable. */
  readonly mac: string;
  /** The other host. */
  other!: TestHost;
  #agent: Agent | null = null;
  #starting: Promise<Agent> | null = null;
  readonly #owned = new Set<net.Socket | net.Server>();
  readonly #spawned = new Set<ChildProcess>();

  /** @internal */
  constructor(name: string, address: string, mac: string) {
    this.name = name;
    this.address = address;
    this.mac = mac;
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
   * The host vanishes from the network: its end of the cable goes down. Nothing it sends
   * leaves and nothing reaches it: no FIN, no RST, no ICMP, so the other side hears silence.
   * Resolves with performance.now() at the moment it went down, once the other side's kernel
   * has taken in the lost carrier.
   */
  async blackhole(): Promise<number> {
    await run('ip', ['-n', this.name, 'link', 'set', LINK, 'down']);
    const down = performance.now();
    // Linux applies a carrier change up to a second later (linkwatch). Until then the other
    // end refuses packets, which TCP takes as a local failure and retries without counting a
    // retransmission; afterwards they leave and vanish, as they would on a real network.
    await waitForState(this.other.name, (state) => state !== 'UP', 'lose its carrier');
    return down;
  }

  /**
   * The cable is back: the link goes up, and the address and neighbour entries a link loses
   * when it goes down are put back (on both hosts). Returns performance.now() once it is up.
   */
  async heal(): Promise<number> {
    // The neighbours are static so that a vanished host is silence, not an ARP failure
    // (whose local ICMP error would end the connection as EHOSTUNREACH instead of ETIMEDOUT).
    await Promise.all([this, this.other].map((h) => ipBatch(h.name, [
      `link set ${LINK} up`,
      `address replace ${h.address}/${SUBNET} dev ${LINK}`,
      `neighbour replace ${h.other.address} lladdr ${h.other.mac} dev ${LINK} nud permanent`,
    ])));
    await Promise.all([this, this.other].map((h) => waitForState(h.name, (state) => state === 'UP', 'come up')));
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
    await run('ss', ['-N', this.name, '-K', '-t', '-a']);
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

  /** Runs a command in the host and returns its stdout. */
  exec(command: string, args: readonly string[] = []): Promise<string> {
    return run('ip', ['netns', 'exec', this.name, command, ...args]);
  }

  /**
   * Starts a program in the host (your own peer or service). It is frozen, thawed and killed
   * with the host, and killed when the network closes.
   */
  spawn(command: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    // `ip netns exec` execs the program in place: the child's pid is the program's own.
    const child = spawn('ip', ['netns', 'exec', this.name, command, ...args], options);
    this.#spawned.add(child);
    child.once('exit', () => this.#spawned.delete(child));
    return child;
  }

  #own(x: net.Socket | net.Server): void {
    this.#owned.add(x);
    x.once('close', () => this.#owned.delete(x));
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
    live.delete(this);
    for (const host of [this.a, this.b]) host.release();
    await Promise.all([this.a, this.b].map(async (host) => {
      await host.kill().catch(() => {});
      await run('ss', ['-N', host.name, '-K', '-t', '-a']).catch(() => {});
      await run('ip', ['netns', 'del', host.name]);
    }));
    if (live.size === 0) watchProcess(false);
  }

  /** @internal The same, synchronously, for process exit and signals. */
  destroySync(): void {
    if (this.#closed) return;
    this.#closed = true;
    live.delete(this);
    for (const host of [this.a, this.b]) host.release();
    for (const host of [this.a, this.b]) destroyNamespaceSync(host.name);
    if (live.size === 0) watchProcess(false);
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
  if (live.size === 0) watchProcess(true);
  live.add(network); // from the first namespace on, an exit removes what exists
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

// ---- timing and assertions ----

/**
 * When the socket last heard from its peer (data or an ACK), as a performance.now() time, from
 * TCP_INFO: the moment the kernel's keepalive and retransmission clocks count from.
 */
export function lastHeard(socket: net.Socket): number {
  const info = tcpInfo(socket);
  return performance.now() - Math.min(info.lastDataRecv, info.lastAckRecv);
}

/**
 * The longest a silent peer can go unnoticed with these keepalive settings: idle + interval ×
 * count, each time rounded up to whole seconds as the kernel takes them. ms.
 */
export function keepAliveBound(options: Required<Pick<KeepAliveOptions, 'idle' | 'interval' | 'count'>>): number {
  const s = (ms: number) => Math.ceil(ms / 1000) * 1000;
  return s(options.idle) + s(options.interval) * options.count;
}

export interface Death {
  reason: DeadReason;
  error: Error | null;
  /** The error's code (ECONNRESET, ETIMEDOUT, ERR_TCP_LIVENESS_HEARTBEAT, …), or null. */
  code: string | null;
  /** performance.now() when it was reported. */
  at: number;
  /** ms from `since`. */
  elapsed: number;
  /** ms the socket had heard nothing from its peer (no data, no ACK) when it was reported, or null. */
  silence: number | null;
  /** TCP_INFO when it was reported, or null when the socket was already closed. */
  tcp: TcpInfo | null;
  /** Who noticed: the monitor's 'dead' event, or the socket's own 'error' / 'end' / 'close'. */
  via: 'monitor' | 'error' | 'end' | 'close';
}

export interface WaitForDeathOptions {
  /** Watch this monitor's 'dead' events for the socket (it must be watching it). */
  monitor?: LivenessMonitor;
  /** Give up `timeout` ms after `since` and resolve null. */
  timeout: number;
  /**
   * performance.now() time `elapsed` and `timeout` count from, or a promise of it: pass the
   * fault itself (`since: network.b.kill()`), and a death during the fault is still seen.
   * Default: now.
   */
  since?: number | Promise<number>;
}

type Seen = Omit<Death, 'elapsed'>;

/** Listens now for the socket's death, through the monitor and the socket's own events. */
function watchDeath(socket: net.Socket, monitor: LivenessMonitor | undefined, found: (seen: Seen) => void): () => void {
  let ended = false;
  const stop = () => {
    monitor?.off('dead', onDead);
    socket.off('error', onError);
    socket.off('end', onEnd);
    socket.off('close', onClose);
  };
  const report = (death: Pick<Death, 'reason' | 'error' | 'via'>) => {
    stop();
    const at = performance.now();
    let tcp: TcpInfo | null = null;
    try {
      tcp = tcpInfo(socket); // before the monitor destroys it
    } catch {
      // closed already: Node reports errors after destroying the socket
    }
    const code = (death.error as NodeJS.ErrnoException | null)?.code ?? null;
    found({ ...death, code, at, silence: tcp ? Math.min(tcp.lastDataRecv, tcp.lastAckRecv) : null, tcp });
  };
  const onDead = (s: net.Socket, reason: DeadReason, error: Error | null) => {
    if (s === socket) report({ reason, error, via: 'monitor' });
  };
  const onError = (error: NodeJS.ErrnoException) => report({ reason: reasonOf(error), error, via: 'error' });
  const onEnd = () => { ended = true; };
  // 'end' alone is not death (a half-open socket lives on); the close after it is.
  const onClose = () => report(ended ? { reason: 'peer-closed', error: null, via: 'end' } : { reason: 'error', error: null, via: 'close' });
  monitor?.on('dead', onDead);
  socket.on('error', onError);
  socket.on('end', onEnd);
  socket.on('close', onClose);
  return stop;
}

/**
 * Resolves with how the socket died (as its monitor reported it, or as Node reported it on the
 * socket), or null if it was still alive `timeout` ms after `since`.
 */
export async function waitForDeath(socket: net.Socket, options: WaitForDeathOptions): Promise<Death | null> {
  const { monitor, timeout } = options;
  let seen: Seen | null = null;
  let wake: () => void = () => {};
  const stop = watchDeath(socket, monitor, (s) => { seen = s; wake(); });
  try {
    const since = await (options.since ?? performance.now());
    if (seen === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, since + timeout - performance.now()));
        wake = () => { clearTimeout(timer); resolve(); };
      });
    }
    const death = seen as Seen | null;
    return death && { ...death, elapsed: death.at - since };
  } finally {
    stop();
  }
}

export interface AssertDiesOptions {
  monitor?: LivenessMonitor;
  /** The reason expected (or any of several). */
  reason: DeadReason | readonly DeadReason[];
  /** The error code expected, or null for none (a FIN has none). */
  code?: string | null;
  /** performance.now() time the limits count from, or a promise of it (the fault). Default: now. */
  since?: number | Promise<number>;
  /** Not sooner than this many ms after `since`. Default 0. */
  after?: number;
  /** No later than this many ms after `since`. */
  within: number;
}

/** Waits for the socket to die and asserts why and when; returns what happened. */
export async function assertDies(socket: net.Socket, options: AssertDiesOptions): Promise<Death> {
  const { monitor, reason, code, since, after = 0, within } = options;
  const death = await waitForDeath(socket, { monitor, timeout: within, since });
  if (death === null) {
    throw new AssertionError({ message: `the socket was still alive ${within} ms after the fault (expected ${[reason].flat().join(' or ')})` });
  }
  const reasons: readonly DeadReason[] = typeof reason === 'string' ? [reason] : reason;
  const when = `${death.elapsed.toFixed(0)} ms after the fault`;
  if (!reasons.includes(death.reason)) {
    throw new AssertionError({
      message: `the socket died as '${death.reason}' (${death.code ?? 'no error'}, seen via ${death.via}) ${when}; expected '${reasons.join("' or '")}'`,
      actual: death.reason, expected: reasons.length === 1 ? reasons[0] : reasons, operator: 'includes',
    });
  }
  if (code !== undefined && death.code !== code) {
    throw new AssertionError({ message: `the socket died with ${death.code ?? 'no error'}; expected ${code ?? 'no error'}`, actual: death.code, expected: code, operator: 'strictEqual' });
  }
  if (death.elapsed < after) {
    throw new AssertionError({ message: `the socket was reported dead ${when}: sooner than the ${after} ms the kernel allows` });
  }
  if (death.elapsed > within) {
    throw new AssertionError({ message: `the socket was reported dead ${when}: later than ${within} ms` });
  }
  return death;
}

/** Asserts that the socket is not reported dead for `duration` ms. */
export async function assertStaysAlive(socket: net.Socket, options: { monitor?: LivenessMonitor; duration: number }): Promise<void> {
  const death = await waitForDeath(socket, { monitor: options.monitor, timeout: options.duration });
  if (death !== null) {
    throw new AssertionError({
      message: `the socket was reported dead as '${death.reason}' (${death.code ?? 'no error'}) after ${death.elapsed.toFixed(0)} ms; it should have stayed alive for ${options.duration} ms`,
    });
  }
}
