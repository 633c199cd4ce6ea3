// Keepalive and the user timeout, per socket: setKeepAlive / getKeepAlive, the validation of
// their fields, and the one pending setting a socket that has not connected yet holds.
import * as net from 'node:net';
import { check, failure, native } from './binding';
import { validateBoolean, validateInteger, validateKeepAliveSeconds, validateObject } from './validators';
import { currentFd, fdOf, type Target } from './target';

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

/** Validated keepalive settings as the kernel takes them: enable, idle s, interval s, count, userTimeout ms (-1: leave). */
export type KeepAliveArgs = readonly [number, number, number, number, number];

/** Checks every field before anything touches a socket; `name` prefixes the field names in errors. */
export function keepAliveArgs(options: KeepAliveOptions, name = 'options'): KeepAliveArgs {
  validateObject(options, name);
  const { enable = true, idle, interval, count, userTimeout } = options;
  validateBoolean(enable, `${name}.enable`);
  return [
    enable ? 1 : 0,
    idle === undefined ? -1 : validateKeepAliveSeconds(idle, `${name}.idle`),
    interval === undefined ? -1 : validateKeepAliveSeconds(interval, `${name}.interval`),
    count === undefined ? -1 : validateInteger(count, `${name}.count`, 1, 127),
    userTimeout === undefined ? -1 : validateInteger(userTimeout, `${name}.userTimeout`, 0, 2 ** 31 - 1),
  ];
}

// Sockets still connecting: the settings they get once connected. Several calls before then
// merge field by field into one setting, applied by one 'connect' listener.
const pending = new WeakMap<net.Socket, number[]>();

function applyPending(this: net.Socket): void {
  const args = pending.get(this)!;
  pending.delete(this);
  const r = native.setKeepAlive(currentFd(this), args[0], args[1], args[2], args[3], args[4]);
  if (r < 0) this.destroy(failure(r)); // no caller to throw to: the socket's 'error' says why
}

/** Applies validated settings: now, or once a socket without an fd yet has connected. */
export function applyKeepAlive(target: Target, args: KeepAliveArgs, caller: Function = applyKeepAlive): void {
  const fd = currentFd(target);
  if (fd >= 0) {
    // Not `...args`: a spread call into the addon takes V8's slow generic path (~100 ns).
    check(native.setKeepAlive(fd, args[0], args[1], args[2], args[3], args[4]), caller);
    return;
  }
  if (target instanceof net.Socket && !target.destroyed) {
    // As Node's own setKeepAlive: remember it and apply it once the socket has an fd.
    const merged = pending.get(target);
    if (merged === undefined) {
      pending.set(target, [...args]);
      target.once('connect', applyPending);
    } else {
      for (let i = 0; i < args.length; i++) if (args[i] >= 0) merged[i] = args[i];
    }
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
  applyKeepAlive(target, keepAliveArgs(options), setKeepAlive);
}

const keepAliveOut = new Int32Array(5);

/** The keepalive settings the kernel holds now, system defaults included. */
export function getKeepAlive(target: Target): KeepAlive {
  check(native.getKeepAlive(fdOf(target), keepAliveOut), getKeepAlive);
  return {
    enable: keepAliveOut[0] !== 0,
    idle: keepAliveOut[1] * 1000,
    interval: keepAliveOut[2] * 1000,
    count: keepAliveOut[3],
    userTimeout: keepAliveOut[4],
  };
}
