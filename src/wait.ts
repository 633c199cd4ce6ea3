// waitFor: a promise for a socket's readiness, without blocking the event loop and without a
// threadpool thread. Its own private epoll set (poller.ts), and the groups that share one
// registration per open file, live here.
import * as net from 'node:net';
import { events, failure } from './binding';
import { Poller } from './poller';
import { INVALID, readiness, toReadiness, type Readiness } from './readiness';
import { fdOf, type Target } from './target';
import { validateAbortSignal, validateBoolean, validateMs, validateObject } from './validators';

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

const ALWAYS = events.EPOLLERR | events.EPOLLHUP | events.EPOLLRDHUP;
const ARMED = events.EPOLLRDHUP | events.EPOLLONESHOT;
let waitPoller: Poller | undefined;
const groupsById = new Map<number, WaitGroup>();
const groupsByFd = new Map<number, WaitGroup>();
let nextGroupId = 1;

function interest(group: WaitGroup, extra = 0): number {
  let bits = ARMED | extra;
  for (const w of group.waiters) bits |= w.events;
  return bits;
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
    // Safe by number: a newer file behind it would have its own group in groupsByFd. A failure
    // means the file is already out of the set (closed): nothing left to remove.
    if (registered) waitPoller!.delete(group.fd);
  }
  if (groupsById.size === 0) waitPoller!.ref(false);
}

/** Its file is gone (closed, maybe the number reused): every wait in it ends as invalid. */
function endGroup(group: WaitGroup): void {
  dropGroup(group, false);
  for (const w of group.waiters) {
    unwait(w);
    w.resolve(INVALID);
  }
  group.waiters.clear();
}

function onWaitEvent(id: number, bits: number): void {
  const group = groupsById.get(id);
  if (group === undefined) return; // a registration that has since been dropped
  const ready = toReadiness(bits);
  for (const waiter of [...group.waiters]) {
    if (bits & (waiter.events | ALWAYS)) {
      settle(group, waiter);
      waiter.resolve(ready);
    }
  }
  // One-shot registrations disarm on delivery: re-arm for whoever still waits. Re-arming fails
  // only when the file has left the set (closed): then the remaining waits end as invalid.
  if (group.waiters.size > 0 && waitPoller!.modify(group.fd, group.id, interest(group)) < 0) endGroup(group);
}

/** The group standing for the file behind fd now, re-armed to also wake for `bits`. */
function joinGroup(fd: number, bits: number): WaitGroup | number {
  const known = groupsByFd.get(fd);
  if (known !== undefined) {
    const r = waitPoller!.modify(fd, known.id, interest(known, bits));
    if (r >= 0) return known;
    endGroup(known); // its file was closed (ENOENT: the number is another file's now; EBADF: none)
    if (failure(r).code !== 'ENOENT') return r;
  }
  const group: WaitGroup = { id: nextGroupId++, fd, waiters: new Set(), sockets: new Set(), onClose: () => endGroup(group) };
  const r = waitPoller!.add(fd, group.id, ARMED | bits);
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
    validateAbortSignal(signal, 'options.signal');
    if (signal?.aborted) return Promise.reject(signal.reason);
    const fd = fdOf(target);
    const bits = (readable || (!readable && !writable) ? events.EPOLLIN : 0) | (writable ? events.EPOLLOUT : 0);

    waitPoller ??= new Poller(onWaitEvent, waitFor);
    const group = joinGroup(fd, bits);
    if (typeof group === 'number') return Promise.reject(failure(group, undefined, waitFor));
    return new Promise<Readiness>((resolve, reject) => {
      const waiter: Waiter = { events: bits, resolve };
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
