// What a *target* is (a net.Socket or tls.TLSSocket, a listening net.Server, or an fd number)
// and how its fd is found at the moment of each call: never cached, because Node closes a
// socket's fd in destroy() and the number can belong to another socket a moment later.
import * as net from 'node:net';
import { invalidArgType, outOfRange, socketError } from './errors';

export type Target = net.Socket | net.Server | number;

interface Handle { fd?: number; [kFd]?: number }

// The fd, remembered on Node's handle object itself: reading `handle.fd` is a call into C++
// (about 100 ns per socket across a batch), and a handle's fd never changes once it has one.
// Closing drops the handle (`_handle = null`), so a remembered fd never outlives its socket.
const kFd = Symbol('tcp-liveness fd');

/** Node's handle of a socket or server (`_handle`); null before it has one and once it is closed. */
export function handleOf<H extends object = object>(target: net.Socket | net.Server): H | null {
  return (target as unknown as { _handle?: H | null })._handle ?? null;
}

/** The fd now, or -1 when the target has none (destroyed, not yet connected, not listening). */
export function currentFd(target: Target, name = 'target'): number {
  if (typeof target === 'number') {
    if (!Number.isInteger(target)) throw outOfRange(name, 'an integer', target);
    if (target < 0 || target > 0x7fffffff) throw outOfRange(name, '>= 0 && <= 2147483647', target);
    return target;
  }
  if (target instanceof net.Socket) {
    if (target.destroyed) return -1;
  } else if (!(target instanceof net.Server)) {
    throw invalidArgType(name, 'an instance of net.Socket or net.Server, or a file descriptor', target);
  }
  const handle = handleOf<Handle>(target);
  if (handle === null) return -1;
  const known = handle[kFd];
  if (known !== undefined) return known;
  const fd = handle.fd;
  if (typeof fd !== 'number' || fd < 0) return -1;
  handle[kFd] = fd;
  return fd;
}

/** The fd now; a target without one is an error that says why. */
export function fdOf(target: Target, name = 'target'): number {
  const fd = currentFd(target, name);
  if (fd >= 0) return fd;
  if (target instanceof net.Server) throw socketError('ERR_SERVER_NOT_RUNNING', 'Server is not running');
  if ((target as net.Socket).destroyed) throw socketError('ERR_SOCKET_CLOSED', 'Socket is closed');
  throw socketError('ERR_SOCKET_NOT_CONNECTED', 'Socket has no file descriptor yet: it is not connected');
}
