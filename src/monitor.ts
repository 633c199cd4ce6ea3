// LivenessMonitor: watches many connections, finds the dead ones, reports, destroys and forgets
// them. FIN, RST and socket errors come from the kernel through one private epoll set (no work
// per socket while nothing happens); heartbeats and idle checks share one timer.
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import { events, failure } from './binding';
import { invalidArgType, notTcp, shortTcpInfo, socketError } from './errors';
import { applyKeepAlive } from './keepalive';
import { Entry, firstCheck, runTimers, type TimerHooks } from './monitor-entry';
import { parseConfig, parseMonitorOptions, type Config, type IdleKind, type MonitorOptions, type WatchOptions } from './monitor-options';
import { MonitorCounters, type DeadReason, type MonitorStats } from './monitor-stats';
import { destroyWith, judge, oweError, refuseUnwatchable, transportOf, type Found } from './monitor-verdict';
import { Poller } from './poller';
import { reasonOf } from './probe';
import { readiness } from './readiness';
import { Schedule } from './schedule';
import { currentFd, handleOf } from './target';
import { silenceOf, tcpInfoLength } from './tcp-info';

export type { HeartbeatOptions, IdleKind, IdleOptions, MonitorOptions, WatchOptions } from './monitor-options';
export type { DeadReason, MonitorStats } from './monitor-stats';

export interface Verdict {
  socket: net.Socket;
  alive: boolean;
  /** Why it is dead, or null while alive (or when it was already closed: 'closed'). */
  reason: DeadReason | 'closed' | null;
  error: Error | null;
}

const WATCH = events.EPOLLRDHUP | events.EPOLLONESHOT; // EPOLLERR and EPOLLHUP always come
const RECHECK = 100; // ms between looks at a pending death (a FIN behind unread data, Node's read under way)

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
  readonly #counters = new MonitorCounters();
  readonly #timerHooks: TimerHooks = {
    die: (entry, reason, error) => this.#die(entry, reason, error),
    heartbeatSent: () => this.#counters.heartbeats++,
    idle: (entry, kind, first) => {
      this.#counters.idle++;
      this.emit('idle', entry.socket, kind, first);
    },
  };

  constructor(options: MonitorOptions = {}) {
    super();
    const { defaults, destroy, signal } = parseMonitorOptions(options);
    this.#defaults = defaults;
    this.#destroy = destroy;
    this.#poller = new Poller((id, bits) => this.#onEvent(id, bits), LivenessMonitor);
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
    if (target instanceof net.Socket) this.#addSocket(target, config, false);
    else if (target instanceof net.Server) this.#addServer(target, config);
    else throw invalidArgType('target', 'an instance of net.Socket or net.Server', target);
    return this;
  }

  /** Stops watching a socket or server; returns whether it was watched. */
  delete(target: net.Socket | net.Server): boolean {
    // The socket lookup first: `instanceof net.Server` walks a socket's whole prototype chain.
    const entry = this.#bySocket.get(target as net.Socket);
    if (entry) {
      this.#forget(entry, true);
      return true;
    }
    if (!(target instanceof net.Server) || !this.#servers.has(target)) return false;
    this.#dropServer(target);
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
    const entries = [...this.#bySocket.values()].filter((e) => e.fd >= 0);
    const sockets = entries.map((e) => e.socket!);
    const ready = readiness(sockets);
    const verdicts: Verdict[] = [];
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      const r = ready[i];
      if (entry.socket === null) continue; // forgotten by a listener during this sweep
      if (r.invalid || !this.#owns(entry)) {
        const socket = entry.socket;
        const death = this.#gone(entry);
        verdicts.push({ socket, alive: false, reason: death?.reason ?? 'closed', error: death?.error ?? null });
        continue;
      }
      const bits = (r.error ? events.EPOLLERR : 0) | (r.hangup ? events.EPOLLHUP : 0) |
        (r.peerClosed ? events.EPOLLRDHUP : 0);
      const socket = entry.socket;
      const found = bits ? judge(entry, bits) : null;
      if (found === null || found === 'pending') {
        verdicts.push({ socket, alive: true, reason: null, error: null });
      } else {
        verdicts.push({ socket, alive: false, reason: found.reason, error: found.error });
      }
      this.#act(entry, found, false); // the sweep polled: the epoll registration is still armed
    }
    return verdicts;
  }

  stats(): MonitorStats {
    return this.#counters.snapshot(this.#bySocket.size, this.#servers.size);
  }

  /** Stops everything and lets go of every socket, server and native resource. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const entry of [...this.#bySocket.values()]) this.#forget(entry, false);
    for (const server of [...this.#servers.keys()]) this.#dropServer(server);
    this.#schedule.close();
    this.#poller.close(); // closing the epoll set drops every registration in it
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.emit('close');
  }

  // ---- membership ----

  #addServer(server: net.Server, config: Config): void {
    if (this.#servers.has(server)) return;
    refuseUnwatchable(server, currentFd(server), config); // a listener's TCP_INFO is as long as its connections'
    const onConnection = (socket: net.Socket) => {
      // net.createServer({ keepAlive: true }) re-tunes each accepted socket before 'connection',
      // overwriting what it inherited from the listener: then the settings are applied again.
      const inherited = !(server as net.Server & { keepAlive?: boolean }).keepAlive;
      if (this.#closed || socket.destroyed) return;
      try {
        this.#addSocket(socket, config, inherited);
      } catch (err) {
        // Inside Node's 'connection' event there is no caller to throw to; never silently unwatched.
        process.emitWarning(err as Error);
      }
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
    const fd = currentFd(socket);
    if (fd < 0 && socket.destroyed) throw socketError('ERR_SOCKET_CLOSED', 'Socket is closed');
    refuseUnwatchable(socket, fd, config);
    // Settings first: if the socket refuses them (not TCP), nothing has been registered yet.
    if (config.keepAlive && !inherited) applyKeepAlive(socket, config.keepAlive);
    const entry = new Entry(this.#nextId++, socket, config);
    this.#byId.set(entry.id, entry);
    this.#bySocket.set(socket, entry);
    this.#counters.added++;
    socket.on('close', this.#onClose);
    if (fd >= 0 && !socket.connecting) this.#register(entry, fd);
    else {
      // Registered once connected: before that a refused connect is Node's to report.
      entry.onConnect = () => {
        entry.onConnect = undefined;
        this.#register(entry);
      };
      socket.once('connect', entry.onConnect);
    }
  }

  /** `fd`: the socket's, known to be TCP; without it, a socket that has just connected. */
  #register(entry: Entry, fd = -1): void {
    if (fd < 0) {
      const socket = entry.socket!;
      fd = currentFd(socket);
      if (fd < 0) return; // closed meanwhile: 'close' forgets it
      const transport = transportOf(socket);
      if (transport !== 'tcp') {
        // Added before it connected, and it turned out not to be TCP: nobody to throw to.
        this.#forget(entry, false);
        process.emitWarning(notTcp(transport ?? 'unknown'));
        return;
      }
    }
    const r = this.#poller.add(fd, entry.id, WATCH);
    if (r < 0) {
      this.#forget(entry, false);
      throw failure(r);
    }
    entry.fd = fd;
    entry.handle = handleOf(entry.socket!);
    if (entry.config.heartbeat || entry.config.idle) {
      entry.addedAt = performance.now();
      this.#schedule.at(entry, entry.addedAt + firstCheck(entry.config));
    }
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
    if (fdStillOurs && this.#owns(entry)) this.#poller.delete(entry.fd);
    entry.socket = null;
    this.#counters.removed++;
  }

  // ---- verdicts ----

  /**
   * Whether the socket is still open on the fd it was registered with: checked before every
   * syscall on entry.fd, since a closed socket's number may already be another socket's.
   */
  #owns(entry: Entry): boolean {
    const socket = entry.socket;
    if (socket === null || entry.fd < 0) return false;
    // Node closes the fd and drops the handle together (destroy() sets `_handle = null`), so the
    // same handle object means the same open fd: one load and a compare, on every delete and
    // event. A handle Node replaced (never seen, but not excluded) is judged by its fd.
    return handleOf(socket) === entry.handle || currentFd(socket) === entry.fd;
  }

  #onEvent(id: number, bits: number): void {
    const entry = this.#byId.get(id);
    if (entry === undefined || entry.socket === null) return; // already forgotten
    if (!this.#owns(entry)) {
      this.#gone(entry); // closed, and the number may already be another socket's: touch nothing
      return;
    }
    this.#act(entry, judge(entry, bits), true);
  }

  /** Acts on a verdict of judge(); returns whether the socket is still watched. */
  #act(entry: Entry, found: Found | 'pending' | null, rearm: boolean): boolean {
    if (found === null) {
      // Nothing wrong: re-arm. This cannot fail but for ENOMEM: the fd was checked to be ours
      // and registered (ENOENT/EBADF would mean it was closed). Should it, the socket is still
      // judged by its heartbeat, its idle checks and check(); it is never destroyed for a
      // failure of our own.
      if (rearm) this.#poller.modify(entry.fd, entry.id, WATCH);
      return true;
    }
    if (found === 'pending') {
      entry.recheck = true;
      this.#schedule.at(entry, performance.now() + RECHECK);
      return true;
    }
    this.#die(entry, found.reason, found.error, found.taken);
    return false;
  }

  /**
   * A watched socket closed under us. When Node's own read met the connection's death first (it
   * was reading, and got ECONNRESET or ETIMEDOUT, or the FIN the monitor left to it), that is
   * still a death, and it is reported with what Node told the application.
   */
  #gone(entry: Entry): { reason: DeadReason; error: Error | null } | null {
    const error = entry.socket!.errored as NodeJS.ErrnoException | null;
    const reason = error ? reasonOf(error) : entry.finSeen ? 'peer-closed' : 'error';
    if (reason === 'error') {
      this.#forget(entry, false); // closed by the application, or an error that is not a death
      return null;
    }
    this.#die(entry, reason, error);
    return { reason, error };
  }

  /** `taken`: the error was the kernel's, taken by the monitor, and is owed to the socket. */
  #die(entry: Entry, reason: DeadReason, error: Error | null, taken = false): void {
    const socket = entry.socket!;
    const owned = this.#owns(entry);
    const silence = owned ? silenceOf(entry.fd) : null;
    this.#forget(entry, owned);
    this.#counters.dead(reason, silence && Math.min(silence.lastDataRecv, silence.lastAckRecv));
    try {
      this.emit('dead', socket, reason, error);
    } finally {
      // The kernel's error goes where Node's read would have put it; a death the monitor itself
      // decided (heartbeat, peer-closed) travels only in 'dead', never as an 'error' event.
      if (owned && this.#destroy) destroyWith(socket, taken ? error : null);
      else if (owned && taken) oweError(socket, error!);
    }
  }

  // ---- heartbeats and idle time ----

  #runDue(due: Set<Entry>): void {
    const now = performance.now();
    for (const entry of due) {
      if (entry.socket === null) continue;
      if (!this.#owns(entry)) {
        this.#gone(entry);
        continue;
      }
      this.#tick(entry, now);
    }
  }

  #tick(entry: Entry, now: number): void {
    if (entry.recheck) {
      entry.recheck = false;
      const r = readiness(entry.socket!);
      const bits = (r.error ? events.EPOLLERR : 0) | (r.hangup ? events.EPOLLHUP : 0) | (r.peerClosed ? events.EPOLLRDHUP : 0);
      const found = bits ? judge(entry, bits) : null;
      if (!this.#act(entry, found, true) || found !== null) return;
      if (!entry.config.heartbeat && !entry.config.idle) return;
    }
    const silence = silenceOf(entry.fd);
    if (silence === null) {
      // Checked at add: TCP_INFO does not fail on an open TCP socket. Say so rather than stop
      // checking in silence.
      const length = tcpInfoLength(entry.fd);
      this.#die(entry, 'error', length < 0 ? failure(length) : shortTcpInfo(length));
      return;
    }
    // A socket younger than the kernel's count has been quiet only since it was added.
    const age = now - entry.addedAt;
    const sinceRecv = Math.min(silence.lastDataRecv, age);
    const sinceSent = Math.min(silence.lastDataSent, age);
    const next = runTimers(entry, now, sinceRecv, sinceSent, this.#timerHooks);
    if (next >= 0 && next < Infinity) this.#schedule.at(entry, next);
  }
}
