// The one place that loads the native addon, and the types of what it exports.
// Native functions return a number: >= 0 a result, < 0 a failure coded as
// -(errno * sites.length + site), which `check` turns into a Node-style Error.
import { join } from 'node:path';
import { systemError, unsupportedError } from './errors';

/** Socket-option numbers for getOption/setOption (the public `constants`). */
export interface Constants {
  SOL_SOCKET: number; IPPROTO_TCP: number; SO_KEEPALIVE: number; SO_RCVBUF: number; SO_SNDBUF: number;
  TCP_NODELAY: number; TCP_KEEPIDLE: number; TCP_KEEPINTVL: number; TCP_KEEPCNT: number; TCP_USER_TIMEOUT: number;
}

/** poll/epoll bits and epoll_ctl ops: internal. */
interface EventConstants {
  POLLIN: number; POLLOUT: number; POLLERR: number; POLLHUP: number; POLLNVAL: number; POLLRDHUP: number;
  EPOLL_CTL_ADD: number; EPOLL_CTL_DEL: number; EPOLL_CTL_MOD: number;
  EPOLLIN: number; EPOLLOUT: number; EPOLLERR: number; EPOLLHUP: number; EPOLLRDHUP: number; EPOLLONESHOT: number;
}

/** An open private epoll set (opaque). */
export type NativePoller = { readonly __poller: unique symbol };

interface Native {
  supported: boolean;
  constants: Constants;
  eventConstants: EventConstants;
  /** Where a failure happened, by site code: [syscall, option]. Its length is the failure codes' modulus. */
  sites: ReadonlyArray<readonly [string, string | undefined] | undefined>;
  /** struct tcp_info field name -> [offset, size] (native/tcp_info.h), plus `size`: the whole struct. */
  tcpInfoLayout: Readonly<Record<string, readonly [number, number]>>;
  /** Most (id, events) pairs one wakeup hands to a poller. */
  pollerBatch: number;
  /** enable, idle (s), interval (s), count, userTimeout (ms); -1 leaves a field as it is. */
  setKeepAlive(fd: number, enable: number, idle: number, interval: number, count: number, userTimeout: number): number;
  /** Fills out with enable, idle (s), interval (s), count, userTimeout (ms). */
  getKeepAlive(fd: number, out: Int32Array): number;
  /** The pending errno (0: none), cleared by reading it. */
  takeSocketError(fd: number): number;
  setOption(fd: number, level: number, name: number, value: number): number;
  getOption(fd: number, level: number, name: number, out: Int32Array): number;
  /** Zero-timeout poll over pairs (fd, events | revents << 16) in place; returns how many are ready. */
  poll(pollfds: Int32Array, count: number): number;
  /** 1: data, 0: end of stream, 2: nothing to read. */
  peek(fd: number): number;
  /** Copies struct tcp_info into out; returns the bytes filled. */
  tcpInfo(fd: number, out: Uint8Array): number;
  /** The peer's port (peer: true, getpeername) or the local one (getsockname), IPv4 or IPv6; no address string is built. */
  port(fd: number, peer: boolean): number;
  /**
   * One snapshot of a process's TCP sockets (native/diag.h): an ArrayBuffer of 128-byte tl_conn
   * records, or a failure code. out[0] gets how many fds the process has open.
   */
  diagSnapshot(pid: number, self: 0 | 1, netnsFd: number, out: Float64Array): ArrayBuffer | number;
  /** Ready registrations are written to out as (id, events) pairs before callback(count) runs. */
  pollerOpen(out: Float64Array, callback: (count: number) => void): NativePoller | number;
  /** Every argument required: EPOLL_CTL_DEL passes 0, 0 for events and id (epoll ignores them). */
  pollerCtl(poller: NativePoller, op: number, fd: number, events: number, id: number): number;
  pollerRef(poller: NativePoller, ref: boolean): void;
  pollerClose(poller: NativePoller): void;
}

function load(): Native {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('node-gyp-build')(join(__dirname, '..')) as Native;
  } catch (err) {
    if (process.platform === 'linux') throw err;
    // Elsewhere the package still loads; every call then says it is unsupported.
    const data = { supported: false, constants: {}, eventConstants: {}, sites: [], tcpInfoLayout: {}, pollerBatch: 1 };
    return new Proxy(data as unknown as Native, {
      get: (t, k) => (k in t ? t[k as keyof Native] : () => { throw unsupportedError(String(k)); }),
    });
  }
}

export const native: Native = load();
// Plain copies: the objects N-API built are in dictionary mode (too many keyed stores), and
// every constants.X read from them is a slow lookup on a hot path.
export const constants: Constants = { ...native.constants };
export const events: EventConstants = { ...native.eventConstants };
const sites = native.sites;
const UNKNOWN = ['unknown', undefined] as const;

/** Returns r when it is a result; throws the Error a failure code stands for, its stack starting at `caller`'s caller. */
export function check(r: number, caller?: Function): number {
  if (r >= 0) return r;
  throw failure(r, undefined, caller ?? check);
}

/**
 * The Error a failure code stands for. `option` names the option when the native side only knows
 * it by number (`getOption`, `setOption`); the stack starts where `caller` was called, as Node's
 * own system errors start at the user's call.
 */
export function failure(r: number, option?: string, caller: Function = failure): NodeJS.ErrnoException {
  const code = -r;
  const errno = Math.floor(code / sites.length);
  const [syscall, siteOption] = sites[code % sites.length] ?? UNKNOWN;
  const err = native.supported ? systemError(errno, syscall, option ?? siteOption) : unsupportedError(option ?? siteOption ?? syscall);
  Error.captureStackTrace(err, caller);
  return err;
}
