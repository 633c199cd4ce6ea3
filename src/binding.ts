// The one place that loads the native addon, and the types of what it exports.
// Native functions return a number: >= 0 a result, < 0 a failure coded as
// -(errno * constants.SITES + site), which `check` turns into a Node-style Error.
import { join } from 'node:path';
import { systemError, unsupportedError } from './errors';

export interface Constants {
  POLLIN: number; POLLOUT: number; POLLERR: number; POLLHUP: number; POLLNVAL: number; POLLRDHUP: number;
  EPOLL_CTL_ADD: number; EPOLL_CTL_DEL: number; EPOLL_CTL_MOD: number;
  EPOLLIN: number; EPOLLOUT: number; EPOLLERR: number; EPOLLHUP: number; EPOLLRDHUP: number; EPOLLONESHOT: number;
  SOL_SOCKET: number; IPPROTO_TCP: number; SO_KEEPALIVE: number; SO_RCVBUF: number; SO_SNDBUF: number;
  TCP_NODELAY: number; TCP_KEEPIDLE: number; TCP_KEEPINTVL: number; TCP_KEEPCNT: number; TCP_USER_TIMEOUT: number;
  SITES: number;
}

/** An open private epoll set (opaque). */
export type NativePoller = { readonly __poller: unique symbol };

export interface Native {
  supported: boolean;
  constants: Constants;
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
  /** Ready registrations are written to out as (id, events) pairs before callback(count) runs. */
  pollerOpen(out: Float64Array, callback: (count: number) => void): NativePoller | number;
  pollerCtl(poller: NativePoller, op: number, fd: number, events: number, id: number): number;
  pollerRef(poller: NativePoller, ref: boolean): void;
  pollerClose(poller: NativePoller): void;
}

// Where a failure happened: [syscall, option]. Same order as enum tl_site in native/liveness.h.
const SITES: ReadonlyArray<readonly [string, string | undefined]> = [
  ['unknown', undefined],
  ['setsockopt', 'SO_KEEPALIVE'],
  ['setsockopt', 'TCP_KEEPIDLE'],
  ['setsockopt', 'TCP_KEEPINTVL'],
  ['setsockopt', 'TCP_KEEPCNT'],
  ['setsockopt', 'TCP_USER_TIMEOUT'],
  ['getsockopt', 'SO_ERROR'],
  ['getsockopt', 'TCP_INFO'],
  ['poll', undefined],
  ['recv', undefined],
  ['epoll_ctl', undefined],
  ['epoll_create1', undefined],
  ['setsockopt', undefined],
];
const SITE_READ = 16; // the failing call was getsockopt (native/liveness.h TL_SITE_READ)

function load(): Native {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('node-gyp-build')(join(__dirname, '..')) as Native;
  } catch (err) {
    if (process.platform === 'linux') throw err;
    // Elsewhere the package still loads; every call then says it is unsupported.
    return new Proxy({ supported: false, constants: {} } as Native, {
      get: (t, k) => (k in t ? t[k as keyof Native] : () => { throw unsupportedError(String(k)); }),
    });
  }
}

export const native: Native = load();
// A plain copy: the object N-API built is in dictionary mode (too many keyed stores), and
// every constants.X read from it is a slow lookup on a hot path.
export const constants: Constants = { ...native.constants };

/** Returns r when it is a result; throws the Error a failure code stands for. */
export function check(r: number): number {
  if (r >= 0) return r;
  throw failure(r);
}

/**
 * The Error a failure code stands for. `option` names the option when the native side only knows
 * it by number (`getOption`, `setOption`).
 */
export function failure(r: number, option?: string): NodeJS.ErrnoException {
  const code = -r;
  const errno = Math.floor(code / constants.SITES);
  const site = code % constants.SITES;
  const [setter, siteOption] = SITES[site & (SITE_READ - 1)] ?? SITES[0];
  const syscall = site & SITE_READ ? 'getsockopt' : setter;
  if (!native.supported) return unsupportedError(option ?? siteOption ?? syscall);
  return systemError(errno, syscall, option ?? siteOption);
}
