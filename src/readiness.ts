// What a socket is ready for right now (a zero-timeout poll(), one syscall for a whole batch),
// the frozen Readiness objects every poll/epoll event maps to, and peek at the receive queue.
import { endianness } from 'node:os';
import { check, events, native } from './binding';
import { currentFd, fdOf, type Target } from './target';

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

const POLL_EVENTS = events.POLLIN | events.POLLOUT | events.POLLRDHUP;
// struct pollfd is (int fd, short events, short revents): the second word holds both shorts
// (native/linux.cc pins the layout).
const littleEndian = endianness() === 'LE';
const EVENTS_WORD = littleEndian ? POLL_EVENTS : POLL_EVENTS << 16;
let pollfds = new Int32Array(2);

function revents(word: number): number {
  return littleEndian ? word >>> 16 : word & 0xffff;
}

// Every Readiness there can be, made once and frozen, found by a 7-bit index of the event bits
// (the six low poll bits, and POLLRDHUP as bit 6): a batch over 10k sockets allocates none.
// poll and epoll share these bit values on Linux.
function readinessIndex(bits: number): number {
  return (bits & 0x3f) | (bits & events.POLLRDHUP ? 0x40 : 0);
}
const READINESS: readonly Readiness[] = Array.from({ length: 128 }, (_, i) => {
  const bits = (i & 0x3f) | (i & 0x40 ? events.POLLRDHUP : 0);
  return Object.freeze({
    readable: (bits & events.POLLIN) !== 0,
    writable: (bits & events.POLLOUT) !== 0,
    peerClosed: (bits & events.POLLRDHUP) !== 0,
    hangup: (bits & events.POLLHUP) !== 0,
    error: (bits & events.POLLERR) !== 0,
    invalid: (bits & events.POLLNVAL) !== 0,
  });
});

/** The (shared, frozen) Readiness for poll/epoll event bits. */
export function toReadiness(bits: number): Readiness {
  return READINESS[readinessIndex(bits)];
}

/** What a target without an open fd is. */
export const INVALID: Readiness = toReadiness(events.POLLNVAL);

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
    if (pollfds[0] < 0) return INVALID;
    check(native.poll(pollfds, 1), readiness);
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
  check(native.poll(pollfds, n), readiness);
  const out = new Array<Readiness>(n);
  for (let i = 0; i < n; i++) {
    out[i] = pollfds[2 * i] < 0 ? INVALID : toReadiness(revents(pollfds[2 * i + 1]));
  }
  return out;
}

/**
 * Looks at the receive queue without consuming it: 'data', 'eof' (the peer sent FIN and
 * everything before it has been read) or 'empty'. A pending error is thrown (and, as any
 * read does, cleared by the kernel).
 */
export function peek(target: Target): 'data' | 'eof' | 'empty' {
  const r = check(native.peek(fdOf(target)), peek);
  return r === 1 ? 'data' : r === 0 ? 'eof' : 'empty';
}
