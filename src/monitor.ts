// LivenessMonitor: watches many connections, finds the dead ones, reports, destroys and forgets
// them. FIN, RST and socket errors come from the kernel through one private epoll set (no work
// per socket while nothing happens); heartbeats and idle checks share one timer.
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { constants, failure, native } from './binding';
import {
  applyKeepAlive, keepAliveArgs, lastAckRecvOf, lastDataRecvOf, lastDataSentOf, readTcpInfo, readiness, reasonOf,
  type KeepAliveArgs, type KeepAliveOptions,
} from './core';
import {
  invalidArgType, socketError, systemError, validateBoolean, validateFunction, validateObject,
} from './errors';
import { Poller } from './poller';
import { Schedule, type Scheduled } from './schedule';
import { currentFd } from './target';

export type DeadReason = 'peer-closed' | 'reset' | 'timeout' | 'unreachable' | 'heartbeat' | 'error';
export type IdleKind = 'read' | 'write' | 'all';

export interface HeartbeatOptions {
  /** Send a heartbeat when nothing has arrived for this long, ms. */
  interval: number;
  /** Declare the socket dead when nothing at all arrives this long after the heartbeat, ms. */
  timeout: number;
  /** Writes the application's ping. */
  send(socket: net.Socket): void;
}

/** Thresholds in ms for 'idle' events: nothing received (read), sent (write), or either (all). */
export interface IdleOptions {
  read?: number;
  write?: number;
  all?: number;
}

/** Per-socket (or per-server) settings; `false` turns a monitor-wide setting off. */
export interface WatchOptions {
  keepAlive?: KeepAliveOptions | false;
  heartbeat?: HeartbeatOptions | false;
  idle?: IdleOptions | false;
}

export interface MonitorOptions extends WatchOptions {
  /** Destroy dead sockets (default true). The cause travels in 'dead', never as an 'error' event. */
  destroy?: boolean;
  /** Aborting closes the monitor. */
  signal?: AbortSignal;
}

export interface Verdict {
  socket: net.Socket;
  alive: boolean;
  /** Why it is dead, or null while alive (or when it was already closed: 'closed'). */
  reason: DeadReason | 'closed' | null;
  error: Error | null;
}

export interface MonitorStats {
  /** Sockets watched now. */
  watched: number;
  /** Servers whose accepted connections are added. */
  servers: number;
  /** Sockets ever added. */
  added: number;
  /** Sockets that closed (for any reason) while watched, or were deleted. */
  removed: number;
  dead: Record<DeadReason, number>;
  heartbeats: number;
  idle: number;
  /**
   * How long the peer had been silent (ms since the kernel last received data or an ACK) when a
   * socket was declared dead: for a keepalive timeout about idle + interval × count. Over the
   * last 1024 deaths.
   */
  silence: { count: number; p50: number; p99: number; max: number };
}

interface Config {
  keepAlive: KeepAliveArgs | null;
  /** `step`: how often an unanswered heartbeat is looked at, so the next one is never late by more. */
  heartbeat: { interval: number; timeout: number; step: number; send: (socket: net.Socket) => void } | null;
  idle: { read: number; write: number; all: number } | null;
}

class Entry implements Scheduled {
  slot = -1;
  /** The fd it was registered with; -1 until registered. Checked before every syscall. */
  fd = -1;
  addedAt = 0;
  /** When the outstanding heartbeat was sent, or -1. */
  pingAt = -1;
  /** When each idle kind last fired since the last activity (-1: not since); only with idle events. */
  idleAt: number[] | null;
  /** A FIN arrived behind unread data: wait for the application to read it. */
  finPending = false;
  onConnect: (() => void) | undefined;
  constructor(readonly id: number, public socket: net.Socket | null, readonly config: Config) {
    this.idleAt = config.idle ? [-1, -1, -1] : null;
  }
}

const WATCH = constants.EPOLLRDHUP | constants.EPOLLONESHOT; // EPOLLERR and EPOLLHUP always come
const FIN_RECHECK = 100; // ms between looks at a FIN still queued behind unread data
const IDLE_KINDS: readonly IdleKind[] = ['read', 'write', 'all'];
const REASONS: readonly DeadReason[] = ['peer-closed', 'reset', 'timeout', 'unreachable', 'heartbeat', 'error'];

function positiveMs(value: unknown, name: string): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!(value > 0 && value <= 2 ** 31 - 1)) {
    throw Object.assign(
      new RangeError(`The value of "${name}" is out of range. It must be > 0 && <= ${2 ** 31 - 1}. Received ${value}`),
      { code: 'ERR_OUT_OF_RANGE' },
    );
  }
  return value;
}

function parseConfig(options: WatchOptions, base: Config | null, name: string): Config {
  validateObject(options, name);
  const { keepAlive, heartbeat, idle } = options;
  let hb = base?.heartbeat ?? null;
  if (heartbeat === false) hb = null;
  else if (heartbeat !== undefined) {
    validateObject(heartbeat, `${name}.heartbeat`);
    const interval = positiveMs(heartbeat.interval, `${name}.heartbeat.interval`);
    const timeout = positiveMs(heartbeat.timeout, `${name}.heartbeat.timeout`);
    hb = {
      interval,
      timeout,
      step: Math.min(1000, Math.max(10, Math.min(interval, timeout) / 10)),
      send: validateFunction(heartbeat.send, `${name}.heartbeat.send`) as (socket: net.Socket) => void,
    };
  }
  let id = base?.idle ?? null;
  if (idle === false) id = null;
  else if (idle !== undefined) {
    validateObject(idle, `${name}.idle`);
    const ms = (k: IdleKind) => (idle[k] === undefined ? 0 : positiveMs(idle[k], `${name}.idle.${k}`));
    id = { read: ms('read'), write: ms('write'), all: ms('all') };
    if (!id.read && !id.write && !id.all) id = null;
  }
  return {
    keepAlive: keepAlive === false ? null : keepAlive === undefined ? base?.keepAlive ?? null : keepAliveArgs(keepAlive, `${name}.keepAlive`),
    heartbeat: hb,
    idle: id,
  };
}

function heartbeatError(timeout: number): Error {
  return Object.assign(new Error(`No data arrived within ${timeout} ms of a heartbeat`), {
    code: 'ERR_TCP_LIVENESS_HEARTBEAT',
  });
}

export interface LivenessMonitor {
  on(event: 'dead', listener: (socket: net.Socket, reason: DeadReason, error: Error | null) => void): this;
  on(event: 'idle', listener: (socket: net.Socket, kind: IdleKind, first: boolean) => void): this;
  on(event: 'close', listener: () => void): this;
  once(event: 'dead', listener: (socket: net.Socket, reason: DeadReason, error: Error | null) => void): this;
  once(event: 'idle', listener: (socket: net.Socket, kind: IdleKind, first: boolean) => void): this;
  once(event: 'close', listener: () => void): this;
}

export class LivenessMonitor extends EventEmitter {
  readonly #defaults: Config;
  readonly #destroy: boolean;
  readonly #poller: Poller;
  readonly #schedule = new Schedule<Entry>((due) => this.#runDue(due));
  readonly #byId = new Map<number, Entry>();
  readonly #bySocket = new Map<net.Socket, Entry>();
  readonly #servers = new Map<net.Server, { onConnection: (s: net.Socket) => void; onClose: () => void; onListening?: () => void }>();
  readonly #onClose: () => void;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => this.close();
  #nextId = 1;
  #closed = false;
  #added = 0;
  #removed = 0;
  #heartbeats = 0;
  #idleEvents = 0;
  readonly #dead = Object.fromEntries(REASONS.map((r) => [r, 0])) as Record<DeadReason, number>;
  readonly #silence = new Float64Array(1024);
  #silenceCount = 0;

  constructor(options: MonitorOptions = {}) {
    super();
    validateObject(options, 'options');
    const { destroy = true, signal } = options;
    validateBoolean(destroy, 'options.destroy');
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
    }
    this.#defaults = parseConfig(options, null, 'options');
    this.#destroy = destroy;
    this.#poller = new Poller((id, events) => this.#onEvent(id, events));
    const monitor = this;
    // One listener function for every socket: `this` is the socket that closed.
    this.#onClose = function (this: net.Socket) {
      const entry = monitor.#bySocket.get(this);
      if (entry) monitor.#gone(entry);
    };
    this.#signal = signal;
    if (signal?.aborted) this.close();
    else signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Sockets watched now. */
  get size(): number {
    return this.#bySocket.size;
  }

  /**
   * Watches a socket (or, for a net.Server, every connection it accepts from now on: the
   * listener is tuned once and Linux copies keepalive settings to each accepted socket).
   * Adding what is already watched does nothing.
   */
  add(target: net.Socket | net.Server, options?: WatchOptions): this {
    if (this.#closed) throw socketError('ERR_SOCKET_CLOSED', 'The monitor is closed');
    const config = options === undefined ? this.#defaults : parseConfig(options, this.#defaults, 'options');
    if (target instanceof net.Server) this.#addServer(target, config);
    else if (target instanceof net.Socket) this.#addSocket(target, config, false);
    else throw invalidArgType('target', 'an instance of net.Socket or net.Server', target);
    return this;
  }

  /** Stops watching a socket or server; returns whether it was watched. */
  delete(target: net.Socket | net.Server): boolean {
    if (target instanceof net.Server) {
      const s = this.#servers.get(target);
      if (!s) return false;
      this.#dropServer(target);
      return true;
    }
    const entry = this.#bySocket.get(target as net.Socket);
    if (!entry) return false;
    this.#forget(entry, true);
    return true;
  }

  has(target: net.Socket | net.Server): boolean {
    return target instanceof net.Server ? this.#servers.has(target) : this.#bySocket.has(target as net.Socket);
  }

  /**
   * An immediate sweep: one poll() over every watched socket. Dead ones are reported, destroyed
   * and forgotten as usual; the verdicts say what was found for each.
   */
  check(): Verdict[] {
    const entries = [...this.#byId.values()].filter((e) => e.fd >= 0);
    const sockets = entries.map((e) => e.socket!);
    const ready = readiness(sockets);
    const verdicts: Verdict[] = [];
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      const r = ready[i];
      if (entry.socket === null) continue; // forgotten by a listener during this sweep
      if (r.invalid || currentFd(entry.socket) !== entry.fd) {
        const socket = entry.socket;
        const death = this.#gone(entry);
        verdicts.push({ socket, alive: false, reason: death?.reason ?? 'closed', error: death?.error ?? null });
        continue;
      }
      const events = (r.error ? constants.EPOLLERR : 0) | (r.hangup ? constants.EPOLLHUP : 0) |
        (r.peerClosed ? constants.EPOLLRDHUP : 0);
      const socket = entry.socket;
      const found = events ? this.#judge(entry, events) : null;
      if (found === null || found === 'pending') {
        verdicts.push({ socket, alive: true, reason: null, error: null });
      } else {
        verdicts.push({ socket, alive: false, reason: found.reason, error: found.error });
        this.#die(entry, found.reason, found.error);
      }
    }
    return verdicts;
  }

  stats(): MonitorStats {
    const n = Math.min(this.#silenceCount, this.#silence.length);
    const sorted = Array.from(this.#silence.subarray(0, n)).sort((a, b) => a - b);
    const pick = (q: number) => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.floor(q * n))]);
    return {
      watched: this.#bySocket.size,
      servers: this.#servers.size,
      added: this.#added,
      removed: this.#removed,
      dead: { ...this.#dead },
      heartbeats: this.#heartbeats,
      idle: this.#idleEvents,
      silence: { count: this.#silenceCount, p50: pick(0.5), p99: pick(0.99), max: n === 0 ? 0 : sorted[n - 1] },
    };
  }

  /** Stops everything and lets go of every socket, server and native resource. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const entry of [...this.#byId.values()]) this.#forget(entry, false);
    for (const server of [...this.#servers.keys()]) this.#dropServer(server);
    this.#schedule.close();
    this.#poller.close(); // closing the epoll set drops every registration in it
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.emit('close');
  }

  // ---- membership ----

  #addServer(server: net.Server, config: Config): void {
    if (this.#servers.has(server)) return;
    const onConnection = (socket: net.Socket) => {
      // net.createServer({ keepAlive: true }) re-tunes each accepted socket before 'connection',
      // overwriting what it inherited from the listener: then the settings are applied again.
      const inherited = !(server as net.Server & { keepAlive?: boolean }).keepAlive;
      if (!this.#closed && !socket.destroyed) this.#addSocket(socket, config, inherited);
    };
    const onClose = () => this.#dropServer(server);
    const record: { onConnection: typeof onConnection; onClose: typeof onClose; onListening?: () => void } = {
      onConnection, onClose,
    };
    if (config.keepAlive) {
      // Tuned once on the listener; accepted sockets inherit it at no cost per connection.
      if (server.listening) applyKeepAlive(server, config.keepAlive);
      else {
        record.onListening = () => applyKeepAlive(server, config.keepAlive!);
        server.once('listening', record.onListening);
      }
    }
    this.#servers.set(server, record);
    server.on('connection', onConnection);
    server.once('close', onClose);
  }

  #dropServer(server: net.Server): void {
    const record = this.#servers.get(server)!;
    this.#servers.delete(server);
    server.off('connection', record.onConnection);
    server.off('close', record.onClose);
    if (record.onListening) server.off('listening', record.onListening);
  }

  #addSocket(socket: net.Socket, config: Config, inherited: boolean): void {
    if (this.#bySocket.has(socket)) return;
    if (socket.destroyed) throw socketError('ERR_SOCKET_CLOSED', 'Socket is closed');
    // Settings first: if the socket refuses them (not TCP), nothing has been registered yet.
    if (config.keepAlive && !inherited) applyKeepAlive(socket, config.keepAlive);
    const entry = new Entry(this.#nextId++, socket, config);
    this.#byId.set(entry.id, entry);
    this.#bySocket.set(socket, entry);
    this.#added++;
    socket.on('close', this.#onClose);
    if (socket.connecting || currentFd(socket) < 0) {
      // Registered once connected: before that a refused connect is Node's to report.
      entry.onConnect = () => {
        entry.onConnect = undefined;
        this.#register(entry);
      };
      socket.once('connect', entry.onConnect);
      return;
    }
    this.#register(entry);
  }

  #register(entry: Entry): void {
    const fd = currentFd(entry.socket!);
    if (fd < 0) return; // closed meanwhile: 'close' forgets it
    const r = this.#poller.add(fd, entry.id, WATCH);
    if (r < 0) {
      this.#forget(entry, false);
      throw failure(r);
    }
    entry.fd = fd;
    entry.addedAt = performance.now();
    if (entry.config.heartbeat || entry.config.idle) this.#schedule.at(entry, entry.addedAt + this.#firstCheck(entry.config));
  }

  #firstCheck(config: Config): number {
    let first = config.heartbeat ? config.heartbeat.interval : Infinity;
    if (config.idle) {
      for (const t of [config.idle.read, config.idle.write, config.idle.all]) if (t > 0 && t < first) first = t;
    }
    return first;
  }

  /** Lets go of a socket. The epoll entry is removed only while the fd is provably still its own. */
  #forget(entry: Entry, fdStillOurs: boolean): void {
    const socket = entry.socket;
    if (socket === null) return;
    this.#byId.delete(entry.id);
    this.#bySocket.delete(socket);
    this.#schedule.cancel(entry);
    socket.off('close', this.#onClose);
    if (entry.onConnect) socket.off('connect', entry.onConnect);
    if (fdStillOurs && entry.fd >= 0 && currentFd(socket) === entry.fd) this.#poller.delete(entry.fd);
    entry.socket = null;
    this.#removed++;
  }

  // ---- verdicts ----

  #onEvent(id: number, events: number): void {
    const entry = this.#byId.get(id);
    if (entry === undefined || entry.socket === null) return; // already forgotten
    if (currentFd(entry.socket) !== entry.fd) {
      this.#gone(entry); // closed, and the number may already be another socket's: touch nothing
      return;
    }
    const found = this.#judge(entry, events);
    if (found === null) this.#poller.modify(entry.fd, entry.id, WATCH); // nothing wrong: re-arm
    else if (found !== 'pending') this.#die(entry, found.reason, found.error);
  }

  /** What the kernel says about a socket it flagged; 'pending' while a FIN waits behind data. */
  #judge(entry: Entry, events: number): { reason: DeadReason; error: Error | null } | 'pending' | null {
    const fd = entry.fd;
    if (events & constants.EPOLLERR) {
      // Taken, not peeked: the socket is about to be reported dead, and the kernel names the
      // error only by clearing it.
      const errno = native.takeSocketError(fd);
      if (errno > 0) {
        const error = systemError(errno, 'getsockopt', 'SO_ERROR');
        return { reason: reasonOf(error), error };
      }
    }
    if (events & (constants.EPOLLRDHUP | constants.EPOLLHUP)) {
      const r = native.peek(fd);
      if (r === 1) {
        // Data is still queued before the FIN: the application may yet read it.
        entry.finPending = true;
        this.#schedule.at(entry, performance.now() + FIN_RECHECK);
        return 'pending';
      }
      if (r < 0) {
        const error = failure(r);
        return { reason: reasonOf(error), error };
      }
      return { reason: 'peer-closed', error: null };
    }
    return null;
  }

  /**
   * A watched socket closed under us. When Node's own read met the connection's death first (it
   * was reading, and got ECONNRESET or ETIMEDOUT), that is still a death, and it is reported.
   */
  #gone(entry: Entry): { reason: DeadReason; error: Error } | null {
    const error = entry.socket!.errored as NodeJS.ErrnoException | null;
    const reason = error ? reasonOf(error) : 'error';
    if (reason === 'error') {
      this.#forget(entry, false); // closed by the application, or an error that is not a death
      return null;
    }
    this.#die(entry, reason, error);
    return { reason, error: error! };
  }

  #die(entry: Entry, reason: DeadReason, error: Error | null): void {
    const socket = entry.socket!;
    const owned = currentFd(socket) === entry.fd; // still open and still its fd
    if (owned && readTcpInfo(entry.fd) > 0) {
      this.#silence[this.#silenceCount++ % this.#silence.length] = Math.min(lastDataRecvOf(), lastAckRecvOf());
    }
    this.#forget(entry, owned);
    this.#dead[reason]++;
    try {
      this.emit('dead', socket, reason, error);
    } finally {
      // Destroyed without an error: the cause has travelled in 'dead', not as an 'error' event.
      if (this.#destroy && owned) socket.destroy();
    }
  }

  // ---- heartbeats and idle time ----

  #runDue(due: Set<Entry>): void {
    const now = performance.now();
    for (const entry of due) {
      if (entry.socket === null) continue;
      if (currentFd(entry.socket) !== entry.fd) {
        this.#gone(entry);
        continue;
      }
      this.#tick(entry, now);
    }
  }

  #tick(entry: Entry, now: number): void {
    const socket = entry.socket!;
    if (entry.finPending) {
      const r = native.peek(entry.fd);
      if (r === 1) {
        this.#schedule.at(entry, now + FIN_RECHECK);
        return;
      }
      entry.finPending = false;
      const error = r < 0 ? failure(r) : null;
      this.#die(entry, error ? reasonOf(error) : 'peer-closed', error);
      return;
    }
    if (readTcpInfo(entry.fd) < 0) return; // a broken socket: the poller reports what went wrong
    // A socket younger than the kernel's count has been quiet only since it was added.
    const age = now - entry.addedAt;
    const sinceRecv = Math.min(lastDataRecvOf(), age);
    const sinceSent = Math.min(lastDataSentOf(), age);
    let next = Infinity;

    const hb = entry.config.heartbeat;
    if (hb) {
      if (entry.pingAt >= 0 && now - sinceRecv >= entry.pingAt - Math.min(10, hb.interval / 2)) {
        entry.pingAt = -1; // something arrived after the heartbeat (within the kernel's ms grain)
      }
      if (entry.pingAt >= 0) {
        if (now - entry.pingAt >= hb.timeout) {
          this.#die(entry, 'heartbeat', heartbeatError(hb.timeout));
          return;
        }
        // Look again soon: the answer's arrival time sets when the next heartbeat is due.
        next = Math.min(entry.pingAt + hb.timeout, now + hb.step);
      } else if (sinceRecv >= hb.interval) {
        entry.pingAt = now;
        this.#heartbeats++;
        try {
          hb.send(socket);
        } catch (err) {
          this.#die(entry, 'error', err as Error);
          return;
        }
        if (entry.socket === null) return; // send() closed it
        next = now + Math.min(hb.timeout, hb.step);
      } else {
        next = now + hb.interval - sinceRecv;
      }
    }

    const idle = entry.config.idle;
    const idleAt = entry.idleAt;
    if (idle && idleAt) {
      const thresholds = [idle.read, idle.write, idle.all];
      const quiet = [sinceRecv, sinceSent, Math.min(sinceRecv, sinceSent)];
      for (let k = 0; k < 3; k++) {
        const threshold = thresholds[k];
        if (!threshold) continue;
        const activeAt = now - quiet[k];
        // Activity since the last event? The kernel's clock is coarse (a jiffy), so compare with
        // slack: before that event, the last activity was at least a whole threshold earlier.
        if (idleAt[k] >= 0 && activeAt > idleAt[k] - threshold / 2) idleAt[k] = -1;
        const first = idleAt[k] < 0;
        const dueAt = first ? activeAt + threshold : idleAt[k] + threshold;
        if (now >= dueAt) {
          idleAt[k] = now;
          this.#idleEvents++;
          this.emit('idle', socket, IDLE_KINDS[k], first);
          if (entry.socket === null) return; // a listener closed it
          next = Math.min(next, now + threshold);
        } else {
          next = Math.min(next, dueAt);
        }
      }
    }
    if (next < Infinity) this.#schedule.at(entry, next);
  }
}
