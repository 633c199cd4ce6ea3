// One snapshot of a process's TCP sockets as the kernel reports them: the native call (its fd
// table matched to one inet_diag dump per family), decoded into plain records. No judgement here.
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { failure, native } from '../binding';
import type { KeepAlive } from '../keepalive';
import { TCP_STATES, type TcpState } from '../tcp-info';
import { systemError } from '../errors';

/** The kernel's timer on a socket; `unknown` when only its fd was seen (see `Socket.seen`). */
export type TimerKind = 'none' | 'retransmit' | 'keepalive' | 'time-wait' | 'zero-window-probe' | 'unknown';

// idiag_timer's numbers (net/ipv4/inet_diag.c, tcp_diag.c).
const TIMERS: readonly TimerKind[] = ['none', 'retransmit', 'keepalive', 'time-wait', 'zero-window-probe'];

/** One TCP socket: what the kernel's tables say about it. Times in ms. */
export interface RawSocket {
  family: 'IPv4' | 'IPv6';
  state: TcpState;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** Bytes sent and not yet acknowledged, or queued; a listener: its backlog. */
  sendQueue: number;
  /** Bytes received and not yet read; a listener: connections waiting in accept. */
  receiveQueue: number;
  timer: { kind: TimerKind; expiresIn: number | null; count: number };
  /** ms since data was last received / sent, since an ACK was last received (null: not known). */
  lastDataReceived: number | null;
  lastDataSent: number | null;
  lastAckReceived: number | null;
  /** Segments in flight and not yet acknowledged (null: not known). */
  unacked: number | null;
  /** Retransmissions over the connection's life (null: not known). */
  totalRetransmits: number | null;
  /** Smoothed round-trip time, ms (null: not known). */
  rtt: number | null;
  /**
   * The settings as getKeepAlive reads them back. This process's: on its own fd. Another
   * process's: on a duplicate of its fd (pidfd_getfd, closed at once), which the kernel grants
   * where it would allow ptrace-attaching (the same user, or root; Yama's ptrace_scope may
   * narrow that), else null. Null too for a socket no fd holds (TIME_WAIT, orphans).
   */
  keepAlive: KeepAlive | null;
  /** The fd of the process holding it; null for a socket no fd holds any more (TIME_WAIT, orphans). */
  fd: number | null;
  inode: number;
  uid: number;
  /**
   * 'kernel': from the kernel's socket tables. 'fd': the tables no longer hold it (the kernel
   * closed it) or it lives in another network namespace, so only its fd was asked (state,
   * addresses, TCP_INFO; no timer).
   */
  seen: 'kernel' | 'fd';
}

export interface Snapshot {
  sockets: RawSocket[];
  /** Open fds of the process (sockets or not) and its soft limit on them (RLIMIT_NOFILE). */
  fds: number;
  fdLimit: number | null;
}

const RECORD = 128; // sizeof(tl_conn), pinned in native/diag_linux.cc
const WORDS = RECORD / 4;
const ESRCH = 3;
const fdsOut = new Float64Array(1);

/**
 * Takes a snapshot of process `pid`. Errors: ESRCH (no such process), EACCES/EPERM (the process
 * is not the user's to inspect, or lives in another network namespace and this is not root);
 * their stacks start where `caller` was called.
 */
export function snapshot(pid: number, caller: Function = snapshot): Snapshot {
  const self = pid === process.pid;
  let netnsFd = -1;
  try {
    if (!self) netnsFd = foreignNetns(pid, caller);
    const r = native.diagSnapshot(pid, self ? 1 : 0, netnsFd, fdsOut);
    if (typeof r === 'number') throw inTermsOfProcess(failure(r, undefined, caller), pid, caller);
    return { sockets: decode(r), fds: fdsOut[0], fdLimit: fdLimitOf(pid) };
  } finally {
    if (netnsFd >= 0) closeSync(netnsFd);
  }
}

/** An fd on pid's network namespace when it is not ours (a dump sees one namespace), else -1. */
function foreignNetns(pid: number, caller: Function): number {
  const path = `/proc/${pid}/ns/net`;
  try {
    if (statSync(path).ino === statSync('/proc/self/ns/net').ino) return -1;
    return openSync(path, 'r');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const own = systemError(-(e.errno ?? 0), e.syscall ?? 'open');
    Error.captureStackTrace(own, caller);
    throw inTermsOfProcess(Object.assign(own, { path }), pid, caller);
  }
}

// A failure said in terms of the process: a /proc/<pid> entry that vanished is a process that
// does not exist (or just exited).
function inTermsOfProcess(err: NodeJS.ErrnoException, pid: number, caller: Function): NodeJS.ErrnoException {
  if (err.code === 'ENOENT' && (err.syscall === 'opendir' || err.path !== undefined)) {
    const gone = Object.assign(systemError(ESRCH, 'inspect'), { message: `ESRCH: no such process, inspect ${pid}`, pid });
    Error.captureStackTrace(gone, caller);
    return gone;
  }
  if (err.syscall === 'opendir') err.path = `/proc/${pid}/fd`;
  return Object.assign(err, { pid });
}

/** The soft RLIMIT_NOFILE, from /proc/<pid>/limits (readable for any process); null if unlimited or gone. */
function fdLimitOf(pid: number): number | null {
  try {
    const line = /^Max open files\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'latin1'));
    const soft = line ? Number(line[1]) : NaN;
    return Number.isFinite(soft) ? soft : null;
  } catch {
    return null;
  }
}

function decode(buffer: ArrayBuffer): RawSocket[] {
  const u8 = new Uint8Array(buffer);
  const u16 = new Uint16Array(buffer);
  const u32 = new Uint32Array(buffer);
  const i32 = new Int32Array(buffer);
  const count = buffer.byteLength / RECORD;
  const out: RawSocket[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const b = i * RECORD;
    const w = i * WORDS;
    const v6 = u8[b] === 10; // AF_INET6
    const fromKernel = i32[w + 31] === 0;
    const info = u32[w + 16] > 0;
    const timer = fromKernel ? (TIMERS[u8[b + 2]] ?? 'unknown') : 'unknown';
    const fd = i32[w + 7];
    out[i] = {
      family: v6 ? 'IPv6' : 'IPv4',
      state: TCP_STATES[u8[b + 1]] ?? 'UNKNOWN',
      localAddress: address(u8, b + 32, v6),
      localPort: u16[b / 2 + 2],
      remoteAddress: address(u8, b + 48, v6),
      remotePort: u16[b / 2 + 3],
      sendQueue: u32[w + 6],
      receiveQueue: u32[w + 5],
      timer: {
        kind: timer,
        expiresIn: timer === 'none' || timer === 'unknown' ? null : u32[w + 4],
        count: u8[b + 3],
      },
      lastDataSent: info ? u32[w + 17] : null,
      lastDataReceived: info ? u32[w + 18] : null,
      lastAckReceived: info ? u32[w + 19] : null,
      unacked: info ? u32[w + 20] : null,
      totalRetransmits: info ? u32[w + 25] : null,
      rtt: info ? u32[w + 24] / 1000 : null,
      keepAlive: i32[w + 26] < 0 ? null : {
        enable: i32[w + 26] !== 0,
        idle: i32[w + 27] * 1000,
        interval: i32[w + 28] * 1000,
        count: i32[w + 29],
        userTimeout: i32[w + 30],
      },
      fd: fd < 0 ? null : fd,
      inode: u32[w + 2],
      uid: u32[w + 3],
      seen: fromKernel ? 'kernel' : 'fd',
    };
  }
  return out;
}

/** As Node shows addresses: dotted IPv4, IPv6 with its longest run of zero groups as `::`. */
function address(u8: Uint8Array, at: number, v6: boolean): string {
  if (!v6) return `${u8[at]}.${u8[at + 1]}.${u8[at + 2]}.${u8[at + 3]}`;
  const groups: number[] = [];
  for (let g = 0; g < 8; g++) groups.push((u8[at + 2 * g] << 8) | u8[at + 2 * g + 1]);
  // An IPv4 peer of a dual-stack socket (::ffff:a.b.c.d), as Node's remoteAddress has it.
  if (groups.slice(0, 5).every((x) => x === 0) && groups[5] === 0xffff) {
    return `::ffff:${u8[at + 12]}.${u8[at + 13]}.${u8[at + 14]}.${u8[at + 15]}`;
  }
  let best = -1;
  let bestLen = 1;
  for (let g = 0; g < 8;) {
    if (groups[g] !== 0) { g++; continue; }
    let end = g;
    while (end < 8 && groups[end] === 0) end++;
    if (end - g > bestLen) { best = g; bestLen = end - g; }
    g = end;
  }
  const hex = groups.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
