// The core API: per-socket keepalive and user timeout, the pending error, readiness, waits,
// peeks, TCP_INFO and an honest "is it alive?" probe. Validation, units and defaults live
// here; the native side only makes the syscalls.
import * as net from 'node:net';
import { endianness } from 'node:os';
import { check, constants, failure, native } from './binding';
import {
  invalidArgType, outOfRange, systemError, validateBoolean, validateInteger, validateMs, validateObject,
} from './errors';
import { Poller } from './poller';
import { currentFd, fdOf, type Target } from './target';

export type { Target } from './target';

export interface KeepAliveOptions {
  /** Turn keepalive probes on (SO_KEEPALIVE). Default true. */
  enable?: boolean;
  /** Idle time before the first probe, ms, rounded up to whole seconds (1..32767 s). */
  idle?: number;
  /** Time between probes, ms, rounded up to whole seconds (1..32767 s). */
  interval?: number;
  /** Unanswered probes before the connection is dropped (1..127). */
  count?: number;
  /** How long sent data may stay unacknowledged before the connection is dropped, ms (0: kernel default). */
  userTimeout?: number;
}

export interface KeepAlive {
  enable: boolean;
  /** ms */ idle: number;
  /** ms */ interval: number;
  count: number;
  /** ms; 0 is the kernel default */ userTimeout: number;
}

export interface Readiness {
  /** Data (or end of stream) can be read without blocking (POLLIN). */
  readable: boolean;
  /** Data can be written without blocking (POLLOUT). */
  writable: boolean;
  /** The peer sent FIN: it will send nothing more (POLLRDHUP). */
  peerClosed: boolean;
  /** Both directions are shut down, or the connection is gone (POLLHUP). */
  hangup: boolean;
  /** An error is pending (POLLERR). */
  error: boolean;
  /** No open fd: destroyed, not yet connected, or a closed fd number (POLLNVAL). */
  invalid: boolean;
}

export type ProbeState = 'open' | 'peer-closed' | 'reset' | 'timeout' | 'unreachable' | 'closed' | 'error';

export interface Probe {
  state: ProbeState;
  /** The pending error, when it was taken (`takeError: true`); otherwise null. */
  error: NodeJS.ErrnoException | null;
  readiness: Readiness;
  /** TCP_INFO, or null when the target has no fd. */
  tcp: TcpInfo | null;
}

// ---- keepalive ----

const MAX_KEEPALIVE_S = 32767;

function seconds(value: unknown, name: string): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  const s = Math.ceil(value / 1000); // never shorter than asked
  if (!(s >= 1 && s <= MAX_KEEPALIVE_S)) {
    throw outOfRange(name, `> 0 && <= ${MAX_KEEPALIVE_S * 1000} (milliseconds, rounded up to whole seconds)`, value);
  }
  return s;
}

/** Validated keepalive settings as the kernel takes them: enable, idle s, interval s, count, userTimeout ms (-1: leave). */
export type KeepAliveArgs = readonly [number, number, number, number, number];

/** Checks every field before anything touches a socket; `name` prefixes the field names in errors. */
export function keepAliveArgs(options: KeepAliveOptions, name = 'options'): KeepAliveArgs {
  validateObject(options, name);
  const { enable = true, idle, interval, count, userTimeout } = options;
  validateBoolean(enable, `${name}.enable`);
  return [
    enable ? 1 : 0,
    idle === undefined ? -1 : seconds(idle, `${name}.idle`),
    interval === undefined ? -1 : seconds(interval, `${name}.interval`),
    count === undefined ? -1 : validateInteger(count, `${name}.count`, 1, 127),
    userTimeout === undefined ? -1 : validateInteger(userTimeout, `${name}.userTimeout`, 0, 2 ** 31 - 1),
  ];
}

/** Applies validated settings: now, or once a socket without an fd yet has connected. */
export function applyKeepAlive(target: Target, args: KeepAliveArgs): void {
  const fd = currentFd(target);
  if (fd >= 0) {
    // Not `...args`: a spread call into the addon takes V8's slow generic path (~100 ns).
    check(native.setKeepAlive(fd, args[0], args[1], args[2], args[3], args[4]));
    return;
  }
  if (target instanceof net.Socket && !target.destroyed) {
    // As Node's own setKeepAlive: remember it and apply it once the socket has an fd.
    target.once('connect', () => {
      const r = native.setKeepAlive(currentFd(target), args[0], args[1], args[2], args[3], args[4]);
      if (r < 0) target.destroy(failure(r));
    });
    return;
  }
  fdOf(target); // throws the reason there is no fd
}

/**
 * Tunes keepalive and the user timeout on a socket, a listening server (Linux copies the
 * options to every accepted connection) or an fd. Every field is checked before the first
 * syscall; omitted fields stay as they are. A socket that has no fd yet gets the options when
 * it connects.
 */
export function setKeepAlive(target: Target, options: KeepAliveOptions = {}): void {
  applyKeepAlive(target, keepAliveArgs(options));
}

const keepAliveOut = new Int32Array(5);

/** The keepalive settings the kernel holds now, system defaults included. */
export function getKeepAlive(target: Target): KeepAlive {
  check(native.getKeepAlive(fdOf(target), keepAliveOut));
  return {
    enable: keepAliveOut[0] !== 0,
    idle: keepAliveOut[1] * 1000,
    interval: keepAliveOut[2] * 1000,
    count: keepAliveOut[3],
    userTimeout: keepAliveOut[4],
  };
}

/**
 * Reads and CLEARS the socket's pending error (SO_ERROR). Destructive: once taken, Node's next
 * read on that socket sees an end of stream instead of the error. A healthy socket can return
 * a stored soft error (an ICMP message the kernel noted). Returns null when none is pending.
 */
export function takeSocketError(target: Target): NodeJS.ErrnoException | null {
  const errno = check(native.takeSocketError(fdOf(target)));
  return errno === 0 ? null : systemError(errno, 'getsockopt', 'SO_ERROR');
}

// ---- the integer escape hatch ----

const optionOut = new Int32Array(1);

/** getsockopt for an integer option: `getOption(sock, constants.SOL_SOCKET, constants.SO_RCVBUF)`. */
export function getOption(target: Target, level: number, name: number): number {
  validateInteger(level, 'level', 0, 0x7fffffff);
  validateInteger(name, 'name', 0, 0x7fffffff);
  const r = native.getOption(fdOf(target), level, name, optionOut);
  if (r < 0) throw failure(r, `level ${level} option ${name}`); // the name only when needed
  return optionOut[0];
}

/** setsockopt for an integer option. */
export function setOption(target: Target, level: number, name: number, value: number): void {
  validateInteger(level, 'level', 0, 0x7fffffff);
  validateInteger(name, 'name', 0, 0x7fffffff);
  validateInteger(value, 'value', -0x80000000, 0x7fffffff);
  const r = native.setOption(fdOf(target), level, name, value);
  if (r < 0) throw failure(r, `level ${level} option ${name}`);
}

// ---- readiness ----

const POLL_EVENTS = constants.POLLIN | constants.POLLOUT | constants.POLLRDHUP;
// struct pollfd is (int fd, short events, short revents): the second word holds both shorts.
const littleEndian = endianness() === 'LE';
const EVENTS_WORD = littleEndian ? POLL_EVENTS : POLL_EVENTS << 16;
let pollfds = new Int32Array(2);

function revents(word: number): number {
  return littleEndian ? word >>> 16 : word & 0xffff;
}

// Every Readiness there can be, made once and frozen, found by a 7-bit index of the event bits
// (the six low poll bits, and POLLRDHUP as bit 6): a batch over 10k sockets allocates none.
function readinessIndex(events: number): number {
  return (events & 0x3f) | (events & constants.POLLRDHUP ? 0x40 : 0);
}
const READINESS: readonly Readiness[] = Array.from({ length: 128 }, (_, i) => {
  const events = (i & 0x3f) | (i & 0x40 ? constants.POLLRDHUP : 0);
  return Object.freeze({
    readable: (events & constants.POLLIN) !== 0,
    writable: (events & constants.POLLOUT) !== 0,
    peerClosed: (events & constants.POLLRDHUP) !== 0,
    hangup: (events & constants.POLLHUP) !== 0,
    error: (events & constants.POLLERR) !== 0,
    invalid: (events & constants.POLLNVAL) !== 0,
  });
});

/** The (shared, frozen) Readiness for poll/epoll event bits. */
export function toReadiness(events: number): Readiness {
  return READINESS[readinessIndex(events)];
}

function pollOnce(count: number): void {
  check(native.poll(pollfds, count));
}

/**
 * What the socket is ready for right now: one zero-timeout poll(). The array form is one
 * syscall however many targets. A target without an fd (destroyed, not yet connected) is
 * reported as `invalid`, like a closed fd number, so one dead entry never spoils a batch.
 */
export function readiness(target: Target): Readiness;
export function readiness(targets: readonly Target[]): Readiness[];
export function readiness(target: Target | readonly Target[]): Readiness | Readiness[] {
  if (!Array.isArray(target)) {
    pollfds[0] = currentFd(target as Target);
    pollfds[1] = EVENTS_WORD;
    if (pollfds[0] < 0) return toReadiness(constants.POLLNVAL);
    pollOnce(1);
    return toReadiness(revents(pollfds[1]));
  }
  const n = target.length;
  if (pollfds.length < 2 * n) pollfds = new Int32Array(2 * n);
  let i = 0;
  try {
    for (; i < n; i++) {
      pollfds[2 * i] = currentFd(target[i]);
      pollfds[2 * i + 1] = EVENTS_WORD;
    }
  } catch (err) {
    currentFd(target[i], `targets[${i}]`); // the same error naming the entry: built only on failure
    throw err;
  }
  pollOnce(n);
  const out = new Array<Readiness>(n);
  for (let i = 0; i < n; i++) {
    out[i] = toReadiness(pollfds[2 * i] < 0 ? constants.POLLNVAL : revents(pollfds[2 * i + 1]));
  }
  return out;
}

// ---- waits ----

export interface WaitOptions {
  /** Wake when readable (the default when neither is given). */
  readable?: boolean;
  /** Wake when writable. */
  writable?: boolean;
  /** Give up after this many ms and resolve with the readiness then (like poll() returning 0). */
  timeout?: number;
  signal?: AbortSignal;
}

interface Waiter {
  events: number;
  resolve(r: Readiness): void;
  reject(err: unknown): void;
  timer?: NodeJS.Timeout;
  signal?: AbortSignal;
  onAbort?: () => void;
}

// All waits on one open socket share one registration: epoll takes a file once per set. Groups
// are found by fd number, and the kernel says whether a group still stands for the file behind
// that number now (re-arming it fails with ENOENT once its file was closed and the number reused).
interface WaitGroup {
  id: number;
  fd: number;
  waiters: Set<Waiter>;
  /** Sockets waited on through this group: their closing ends every wait in it. */
  sockets: Set<net.Socket>;
  onClose: () => void;
}

const ALWAYS = constants.EPOLLERR | constants.EPOLLHUP | constants.EPOLLRDHUP;
let waitPoller: Poller | undefined;
const groupsById = new Map<number, WaitGroup>();
const groupsByFd = new Map<number, WaitGroup>();
let nextGroupId = 1;

function interest(group: WaitGroup, extra = 0): number {
  let events = constants.EPOLLRDHUP | constants.EPOLLONESHOT | extra;
  for (const w of group.waiters) events |= w.events;
  return events;
}

function unwait(waiter: Waiter): void {
  clearTimeout(waiter.timer);
  if (waiter.onAbort) waiter.signal!.removeEventListener('abort', waiter.onAbort);
}

function settle(group: WaitGroup, waiter: Waiter): void {
  group.waiters.delete(waiter);
  unwait(waiter);
  if (group.waiters.size === 0) dropGroup(group, true);
}

/** Forgets a group; `registered`: its file may still be open, so take it out of the set. */
function dropGroup(group: WaitGroup, registered: boolean): void {
  groupsById.delete(group.id);
  for (const socket of group.sockets) socket.off('close', group.onClose);
  if (groupsByFd.get(group.fd) === group) {
    groupsByFd.delete(group.fd);
    // Safe by number: a newer file behind it would have its own group in groupsByFd.
    if (registered) waitPoller!.delete(group.fd);
  }
  if (groupsById.size === 0) waitPoller!.ref(false);
}

/** Its file is gone (closed, maybe the number reused): every wait in it ends as invalid. */
function endGroup(group: WaitGroup): void {
  dropGroup(group, false);
  for (const w of group.waiters) {
    unwait(w);
    w.resolve(toReadiness(constants.POLLNVAL));
  }
  group.waiters.clear();
}

function onWaitEvent(id: number, events: number): void {
  const group = groupsById.get(id);
  if (group === undefined) return; // a registration that has since been dropped
  const ready = toReadiness(events);
  for (const waiter of [...group.waiters]) {
    if (events & (waiter.events | ALWAYS)) {
      settle(group, waiter);
      waiter.resolve(ready);
    }
  }
  // One-shot registrations disarm on delivery: re-arm for whoever still waits.
  if (group.waiters.size > 0) waitPoller!.modify(group.fd, group.id, interest(group));
}

/** The group standing for the file behind fd now, re-armed to also wake for `events`. */
function joinGroup(fd: number, events: number): WaitGroup | number {
  const known = groupsByFd.get(fd);
  if (known !== undefined) {
    const r = waitPoller!.modify(fd, known.id, interest(known, events));
    if (r >= 0) return known;
    endGroup(known); // its file was closed (ENOENT: the number is another file's now; EBADF: none)
    if (failure(r).code !== 'ENOENT') return r;
  }
  const group: WaitGroup = { id: nextGroupId++, fd, waiters: new Set(), sockets: new Set(), onClose: () => endGroup(group) };
  const r = waitPoller!.add(fd, group.id, constants.EPOLLRDHUP | constants.EPOLLONESHOT | events);
  if (r < 0) return r;
  groupsById.set(group.id, group);
  groupsByFd.set(fd, group);
  waitPoller!.ref(true);
  return group;
}

/**
 * Resolves with the socket's readiness once it is readable or writable as asked (or has an
 * error, a hangup or the peer's FIN), without blocking the event loop and without holding a
 * threadpool thread: the fd sits in a private epoll set watched by one libuv handle.
 */
export function waitFor(target: Target, options: WaitOptions = {}): Promise<Readiness> {
  try {
    validateObject(options, 'options');
    const { readable, writable, timeout, signal } = options;
    if (readable !== undefined) validateBoolean(readable, 'options.readable');
    if (writable !== undefined) validateBoolean(writable, 'options.writable');
    if (timeout !== undefined) validateMs(timeout, 'options.timeout');
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const fd = fdOf(target);
    const events =
      (readable || (!readable && !writable) ? constants.EPOLLIN : 0) | (writable ? constants.EPOLLOUT : 0);

    waitPoller ??= new Poller(onWaitEvent);
    const group = joinGroup(fd, events);
    if (typeof group === 'number') return Promise.reject(failure(group));
    return new Promise<Readiness>((resolve, reject) => {
      const waiter: Waiter = { events, resolve, reject };
      group.waiters.add(waiter);
      if (target instanceof net.Socket && !group.sockets.has(target)) {
        // Closing removes the fd from the epoll set by itself: the waits end as invalid.
        group.sockets.add(target);
        target.once('close', group.onClose);
      }
      if (timeout !== undefined) {
        waiter.timer = setTimeout(() => {
          settle(group, waiter);
          resolve(readiness(target));
        }, timeout);
      }
      if (signal) {
        waiter.signal = signal;
        waiter.onAbort = () => {
          settle(group, waiter);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
    });
  } catch (err) {
    return Promise.reject(err);
  }
}

// ---- peek and probe ----

/**
 * Looks at the receive queue without consuming it: 'data', 'eof' (the peer sent FIN and
 * everything before it has been read) or 'empty'. A pending error is thrown (and, as any
 * read does, cleared by the kernel).
 */
export function peek(target: Target): 'data' | 'eof' | 'empty' {
  const r = check(native.peek(fdOf(target)));
  return r === 1 ? 'data' : r === 0 ? 'eof' : 'empty';
}

const RESET = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ECONNREFUSED']);
const UNREACHABLE = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']);

/** The word for what a socket error means for the connection. */
export function reasonOf(err: NodeJS.ErrnoException): 'reset' | 'timeout' | 'unreachable' | 'error' {
  if (err.code === 'ETIMEDOUT') return 'timeout';
  if (RESET.has(err.code!)) return 'reset';
  if (UNREACHABLE.has(err.code!)) return 'unreachable';
  return 'error';
}

/**
 * Is this connection alive right now? Looks at readiness, TCP_INFO and (only with
 * `takeError: true`) the pending error. By default the pending error is left for Node to
 * read: then a connection with an error pending is reported as 'error' with `error: null`,
 * because the kernel only says *which* error by clearing it.
 */
export function probe(target: Target, options: { takeError?: boolean } = {}): Probe {
  validateObject(options, 'options');
  const { takeError = false } = options;
  validateBoolean(takeError, 'options.takeError');
  const ready = readiness(target);
  if (ready.invalid) return { state: 'closed', error: null, readiness: ready, tcp: null };
  const tcp = tcpInfo(target);
  const error = takeError && ready.error ? takeSocketError(target) : null;
  let state: ProbeState;
  if (error) state = reasonOf(error);
  else if (ready.error) state = 'error';
  else if (tcp.state === 'CLOSE') state = 'closed';
  else if (ready.peerClosed) state = 'peer-closed';
  else state = 'open';
  return { state, error, readiness: ready, tcp };
}

// ---- TCP_INFO ----

export type TcpState =
  | 'ESTABLISHED' | 'SYN_SENT' | 'SYN_RECV' | 'FIN_WAIT1' | 'FIN_WAIT2' | 'TIME_WAIT' | 'CLOSE'
  | 'CLOSE_WAIT' | 'LAST_ACK' | 'LISTEN' | 'CLOSING' | 'NEW_SYN_RECV' | 'BOUND_INACTIVE' | 'UNKNOWN';

const TCP_STATES: readonly TcpState[] = [
  'UNKNOWN', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE',
  'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV', 'BOUND_INACTIVE',
];
const CA_STATES = ['open', 'disorder', 'cwr', 'recovery', 'loss'] as const;

/**
 * Linux TCP_INFO. Times are milliseconds (fractional where the kernel counts microseconds);
 * `last*` fields are how long ago; rates are bytes per second; windows and queues in bytes
 * or segments as named. Fields a kernel does not provide are undefined.
 */
export interface TcpInfo {
  state: TcpState;
  caState: (typeof CA_STATES)[number] | 'unknown';
  /** Retransmissions of the current unacknowledged segment (resets on ACK). */
  retransmits: number;
  /** Unanswered keepalive or zero-window probes. */
  probes: number;
  backoff: number;
  options: { timestamps: boolean; sack: boolean; windowScale: boolean; ecn: boolean; ecnSeen: boolean; synData: boolean };
  sndWscale: number;
  rcvWscale: number;
  /** ms */ rto: number;
  /** ms */ ato: number;
  sndMss: number;
  rcvMss: number;
  /** Segments sent and not yet acknowledged. */
  unacked: number;
  sacked: number;
  lost: number;
  retrans: number;
  /** ms since data was last sent. */ lastDataSent: number;
  /** ms since data was last received. */ lastDataRecv: number;
  /** ms since an ACK was last received. */ lastAckRecv: number;
  pmtu: number;
  rcvSsthresh: number;
  /** Smoothed round-trip time, ms. */ rtt: number;
  /** ms */ rttVar: number;
  sndSsthresh: number;
  /** Congestion window, segments. */ sndCwnd: number;
  advMss: number;
  reordering: number;
  /** ms */ rcvRtt: number;
  rcvSpace: number;
  totalRetrans: number;
  pacingRate?: number;
  maxPacingRate?: number;
  bytesAcked?: number;
  bytesReceived?: number;
  segsOut?: number;
  segsIn?: number;
  notsentBytes?: number;
  /** ms */ minRtt?: number;
  dataSegsIn?: number;
  dataSegsOut?: number;
  deliveryRate?: number;
  /** ms */ busyTime?: number;
  /** ms */ rwndLimited?: number;
  /** ms */ sndbufLimited?: number;
  delivered?: number;
  deliveredCe?: number;
  bytesSent?: number;
  bytesRetrans?: number;
  dsackDups?: number;
  reordSeen?: number;
  rcvOoopack?: number;
  sndWnd?: number;
  rcvWnd?: number;
  rehash?: number;
  totalRto?: number;
  totalRtoRecoveries?: number;
  /** ms */ totalRtoTime?: number;
}

const infoBytes = new Uint8Array(256);
const info = new DataView(infoBytes.buffer);

/** Reads TCP_INFO into the shared buffer; returns the bytes filled, or a native failure code. */
export function readTcpInfo(fd: number): number {
  return native.tcpInfo(fd, infoBytes);
}

/** ms since data last arrived, from the buffer readTcpInfo filled (offset of tcpi_last_data_recv). */
export function lastDataRecvOf(): number {
  return info.getUint32(52, littleEndian);
}

/** ms since an ACK last arrived, from the buffer readTcpInfo filled. */
export function lastAckRecvOf(): number {
  return info.getUint32(56, littleEndian);
}

/** ms since data was last sent, from the buffer readTcpInfo filled. */
export function lastDataSentOf(): number {
  return info.getUint32(44, littleEndian);
}

export function tcpInfo(target: Target): TcpInfo {
  const len = check(readTcpInfo(fdOf(target)));
  const u8 = (o: number) => info.getUint8(o);
  const u16 = (o: number, size: number) => (len >= o + size ? info.getUint16(o, littleEndian) : undefined);
  const u32 = (o: number) => info.getUint32(o, littleEndian);
  const opt32 = (o: number) => (len >= o + 4 ? u32(o) : undefined);
  const opt64 = (o: number) =>
    len >= o + 8 ? info.getUint32(o + (littleEndian ? 0 : 4), littleEndian) + info.getUint32(o + (littleEndian ? 4 : 0), littleEndian) * 2 ** 32 : undefined;
  const ms = (us: number | undefined) => (us === undefined ? undefined : us / 1000);
  const opts = u8(5);
  return {
    state: TCP_STATES[u8(0)] ?? 'UNKNOWN',
    caState: CA_STATES[u8(1)] ?? 'unknown',
    retransmits: u8(2),
    probes: u8(3),
    backoff: u8(4),
    options: {
      timestamps: (opts & 1) !== 0, sack: (opts & 2) !== 0, windowScale: (opts & 4) !== 0,
      ecn: (opts & 8) !== 0, ecnSeen: (opts & 16) !== 0, synData: (opts & 32) !== 0,
    },
    sndWscale: u8(6) & 0xf,
    rcvWscale: u8(6) >> 4,
    rto: u32(8) / 1000,
    ato: u32(12) / 1000,
    sndMss: u32(16),
    rcvMss: u32(20),
    unacked: u32(24),
    sacked: u32(28),
    lost: u32(32),
    retrans: u32(36),
    lastDataSent: u32(44),
    lastDataRecv: u32(52),
    lastAckRecv: u32(56),
    pmtu: u32(60),
    rcvSsthresh: u32(64),
    rtt: u32(68) / 1000,
    rttVar: u32(72) / 1000,
    sndSsthresh: u32(76),
    sndCwnd: u32(80),
    advMss: u32(84),
    reordering: u32(88),
    rcvRtt: u32(92) / 1000,
    rcvSpace: u32(96),
    totalRetrans: u32(100),
    pacingRate: opt64(104),
    maxPacingRate: opt64(112),
    bytesAcked: opt64(120),
    bytesReceived: opt64(128),
    segsOut: opt32(136),
    segsIn: opt32(140),
    notsentBytes: opt32(144),
    minRtt: ms(opt32(148)),
    dataSegsIn: opt32(152),
    dataSegsOut: opt32(156),
    deliveryRate: opt64(160),
    busyTime: ms(opt64(168)),
    rwndLimited: ms(opt64(176)),
    sndbufLimited: ms(opt64(184)),
    delivered: opt32(192),
    deliveredCe: opt32(196),
    bytesSent: opt64(200),
    bytesRetrans: opt64(208),
    dsackDups: opt32(216),
    reordSeen: opt32(220),
    rcvOoopack: opt32(224),
    sndWnd: opt32(228),
    rcvWnd: opt32(232),
    rehash: opt32(236),
    totalRto: u16(240, 2),
    totalRtoRecoveries: u16(242, 2),
    totalRtoTime: opt32(244),
  };
}

/** What this platform supports; on anything but Linux every call throws ERR_TCP_LIVENESS_UNSUPPORTED. */
export const supported = Object.freeze({
  platform: process.platform,
  keepAlive: native.supported,
  userTimeout: native.supported,
  socketError: native.supported,
  readiness: native.supported,
  waitFor: native.supported,
  peek: native.supported,
  tcpInfo: native.supported,
  monitor: native.supported,
});

export { constants };
