// connections(): every TCP socket of a process with what the kernel knows about it and a verdict,
// listeners apart, and a summary. One native snapshot per call; the judging is ./verdict.ts.
import * as net from 'node:net';
import { TCP_STATES, type TcpState } from '../tcp-info';
import { validateInteger, validateMs, validateObject } from '../validators';
import { currentFd } from '../target';
import { snapshot, type RawSocket } from './snapshot';
import { DEFAULT_THRESHOLDS, judge, VERDICTS, type ConnectionVerdict, type Thresholds } from './verdict';

export type { ConnectionVerdict, Thresholds } from './verdict';
export type { TimerKind } from './snapshot';
export { DEFAULT_THRESHOLDS } from './verdict';

export interface ConnectionsOptions {
  /** ms in CLOSE_WAIT before a connection is a `close-wait-leak`. Default 10000. */
  closeWait?: number;
  /** ms of unacknowledged data or a zero window before a connection is `stalled`. Default 10000. */
  stalled?: number;
  /**
   * The process to inspect. Default: this one (only then are `socket` / `server` filled). Another
   * user's process needs root; another process's keepalive settings are read where the kernel
   * lends its fds (see `keepAlive`).
   */
  pid?: number;
}

/** One TCP connection of the process, or one no fd holds any more on a port it listens on. */
export interface Connection extends RawSocket {
  verdict: ConnectionVerdict;
  reason: string;
  /** The net.Socket of this process it belongs to, when there is one (this process only). */
  socket?: net.Socket;
}

/** A listening socket of the process. */
export interface Listener {
  family: 'IPv4' | 'IPv6';
  localAddress: string;
  localPort: number;
  /** Connections accepted by the kernel and not yet by the application. */
  pending: number;
  backlog: number;
  fd: number | null;
  /** The net.Server it belongs to, when there is one (this process only). */
  server?: net.Server;
}

export interface ConnectionsSummary {
  pid: number;
  /** Connections per TCP state (states with none are left out). */
  states: Partial<Record<TcpState, number>>;
  /** Connections per verdict (every verdict, 0 included). */
  verdicts: Record<ConnectionVerdict, number>;
  /** TIME_WAIT sockets on the ports the process listens on: they belong to no fd any more. */
  timeWait: number;
  listening: number;
  /** Open fds of the process (any kind) and its soft limit on them; past it, accept() fails with EMFILE. */
  fds: number;
  fdLimit: number | null;
}

export interface Connections {
  summary: ConnectionsSummary;
  /** Worst verdict first; within a verdict, the longest silent first. */
  connections: Connection[];
  listeners: Listener[];
}

/**
 * Every TCP socket of this process (or `options.pid`), IPv4 and IPv6: state, addresses, queues,
 * the kernel's timer, keepalive settings, last traffic and a verdict; listening sockets apart;
 * TIME_WAIT and other sockets no fd holds any more, on the ports the process listens on.
 */
export function connections(options: ConnectionsOptions = {}): Connections {
  validateObject(options, 'options');
  const thresholds: Thresholds = {
    closeWait: options.closeWait === undefined ? DEFAULT_THRESHOLDS.closeWait : validateMs(options.closeWait, 'options.closeWait'),
    stalled: options.stalled === undefined ? DEFAULT_THRESHOLDS.stalled : validateMs(options.stalled, 'options.stalled'),
  };
  const pid = options.pid === undefined ? process.pid : validateInteger(options.pid, 'options.pid', 1, 2 ** 31 - 1);
  const snap = snapshot(pid, connections);
  const owners = pid === process.pid ? ownersByFd() : null;

  const listeners: Listener[] = [];
  for (const s of snap.sockets) {
    if (s.state !== 'LISTEN' || s.fd === null) continue;
    const server = owners?.get(s.fd);
    listeners.push({
      family: s.family, localAddress: s.localAddress, localPort: s.localPort,
      pending: s.receiveQueue, backlog: s.sendQueue, fd: s.fd,
      ...(server instanceof net.Server ? { server } : {}),
    });
  }

  const list: Connection[] = [];
  for (const s of snap.sockets) {
    if (s.state === 'LISTEN') continue;
    const c: Connection = Object.assign(s, judge(s, thresholds));
    const socket = s.fd === null ? undefined : owners?.get(s.fd);
    if (socket instanceof net.Socket) c.socket = socket;
    list.push(c);
  }
  list.sort(worstFirst);
  listeners.sort((a, b) => a.localPort - b.localPort);

  const counted: Partial<Record<TcpState, number>> = {};
  const verdicts = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<ConnectionVerdict, number>;
  let timeWait = 0;
  for (const c of list) {
    counted[c.state] = (counted[c.state] ?? 0) + 1;
    verdicts[c.verdict]++;
    if (c.state === 'TIME_WAIT') timeWait++;
  }
  // In the kernel's order of states, whatever the order of the connections.
  const states: Partial<Record<TcpState, number>> = {};
  for (const state of TCP_STATES) if (counted[state] !== undefined) states[state] = counted[state];
  return {
    summary: { pid, states, verdicts, timeWait, listening: listeners.length, fds: snap.fds, fdLimit: snap.fdLimit },
    connections: list,
    listeners,
  };
}

const rank = new Map(VERDICTS.map((v, i) => [v, i]));

function worstFirst(a: Connection, b: Connection): number {
  return rank.get(a.verdict)! - rank.get(b.verdict)! || silence(b) - silence(a) || (a.fd ?? Infinity) - (b.fd ?? Infinity);
}

function silence(c: Connection): number {
  return c.lastAckReceived ?? 0;
}

interface HandleLister { _getActiveHandles?: () => unknown[] }

/**
 * This process's sockets and servers by fd. Node lists the handles that keep its loop alive (an
 * unref()ed socket is not among them, and its entry then has no `socket`).
 */
function ownersByFd(): Map<number, net.Socket | net.Server> {
  const byFd = new Map<number, net.Socket | net.Server>();
  const handles = (process as unknown as HandleLister)._getActiveHandles?.() ?? [];
  for (const h of handles) {
    if (!(h instanceof net.Socket) && !(h instanceof net.Server)) continue;
    const fd = currentFd(h);
    if (fd >= 0) byFd.set(fd, h);
  }
  return byFd;
}
