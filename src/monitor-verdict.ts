// What a socket the kernel flagged died of, and how that death reaches the application, so that
// watching a socket never changes what the application learns: the kernel's error arrives as the
// error Node's own read would have raised, a FIN as an 'end', and nobody is crashed by an
// 'error' they never listened for. Also what the monitor refuses to watch.
//
// The kernel names a pending error only by clearing it: getsockopt(SO_ERROR) and any read, a
// peek included, take sk_err (sock_error()), and the next read on a socket in state CLOSE then
// returns 0, which Node turns into an 'end'. So whoever takes the error owes it to the socket.
import * as net from 'node:net';
import { events, failure, native } from './binding';
import { notTcp, readError, shortTcpInfo } from './errors';
import type { Entry } from './monitor-entry';
import type { Config } from './monitor-options';
import type { DeadReason } from './monitor-stats';
import { reasonOf } from './probe';
import { handleOf } from './target';
import { silenceOf, tcpInfoLength } from './tcp-info';

/** A death found: `taken` when the error was the kernel's and the monitor took it (see judge). */
export interface Found { reason: DeadReason; error: Error | null; taken: boolean }

interface StreamHandle { reading?: boolean; constructor: { name: string }; _parent?: StreamHandle }
interface ReadState { _readableState?: { ended?: boolean } }

/**
 * Whether Node itself is reading the socket now (flowing, or paused but still filling its
 * buffer up to highWaterMark): then libuv wakes for the same EPOLLERR, EPOLLHUP or FIN that the
 * monitor's epoll set sees, and Node's read delivers it in the same event-loop turn. Not once
 * Node has read the end of stream: libuv reads no more, though the handle's flag stays set.
 */
export function nodeIsReading(socket: net.Socket): boolean {
  return handleOf<StreamHandle>(socket)?.reading === true && (socket as unknown as ReadState)._readableState?.ended !== true;
}

/**
 * What carries the socket: 'tcp', or what else it is ('pipe' for a Unix domain socket, ...), or
 * null while it has no handle yet. From Node's own handle type, so it costs no syscall; a TLS
 * socket is judged by the stream under it.
 */
export function transportOf(socket: net.Socket | net.Server): string | null {
  let handle = handleOf<StreamHandle>(socket);
  if (handle === null) return null;
  if (handle.constructor === tcpHandle) return 'tcp'; // one comparison: a function's name is a slow read
  if (handle.constructor.name === 'TLSWrap') handle = handle._parent ?? handle;
  const name = handle.constructor.name;
  if (name === 'TCP') {
    tcpHandle = handle.constructor;
    return 'tcp';
  }
  return name === 'Pipe' ? 'pipe' : name;
}
let tcpHandle: unknown = null; // Node's TCP handle class, once one has been seen

/**
 * Ends a dead socket. A kernel error the monitor took goes to whoever listens for 'error', as
 * Node's read would have given it; with no 'error' listener the socket is destroyed without
 * one, so an error nobody asked for never becomes an uncaught exception.
 */
export function destroyWith(socket: net.Socket, taken: Error | null): void {
  if (taken !== null && socket.listenerCount('error') > 0) socket.destroy(taken);
  else socket.destroy();
}

type Push = (chunk: unknown, encoding?: BufferEncoding) => boolean;

/**
 * For a socket left open (`destroy: false`) whose error the monitor took: Node's next read
 * would see an end of stream the peer never sent. That end becomes the error instead (handed
 * over as by destroyWith), whenever the application next reads.
 */
export function oweError(socket: net.Socket, taken: Error): void {
  const owner = socket as unknown as { push: Push };
  const hadOwn = Object.prototype.hasOwnProperty.call(socket, 'push');
  const push = owner.push;
  owner.push = function (this: net.Socket, chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk !== null) return push.call(this, chunk, encoding);
    if (hadOwn) owner.push = push;
    else delete (owner as { push?: Push }).push;
    destroyWith(this, taken);
    return false;
  };
}

/**
 * What the kernel says about a socket it flagged: a death, 'pending' (looked at again in
 * a moment) or null (nothing wrong).
 *
 * Who tells the application is decided here. A socket Node is reading gets the death from
 * Node's own read, which libuv wakes for the same event: an error as Node's `read E…` 'error',
 * a FIN as 'end', exactly as without a monitor; the monitor takes nothing and reports the
 * death when the socket closes (its #gone). Otherwise the monitor takes the error (the kernel
 * names it only by clearing it) and owes it to the socket (its #die). One exception: a socket Node
 * reads with no 'error' listener, whose error would crash the process from Node's read, is
 * taken and ended quietly when the monitor gets there first.
 */
export function judge(entry: Entry, bits: number): Found | 'pending' | null {
  const socket = entry.socket!;
  const reading = nodeIsReading(socket);
  if (bits & events.EPOLLERR) {
    if (reading && socket.listenerCount('error') > 0) return 'pending';
    const errno = native.takeSocketError(entry.fd);
    if (errno > 0) {
      const error = readError(errno);
      return { reason: reasonOf(error), error, taken: true };
    }
  }
  if (!(bits & (events.EPOLLRDHUP | events.EPOLLHUP))) return null;
  if (socket.readableFlowing === true && (reading || socket.readableEnded)) {
    // A flowing stream: Node reads the FIN and emits 'end' as soon as the application has read
    // what came before it; then Node closes the socket (allowHalfOpen false) or the application
    // does. A stream the application paused, or never consumed, is not told until it reads:
    // that FIN is the monitor's to report (below), as on a socket Node does not read.
    entry.finSeen = true;
    if (!socket.readableEnded || socket.writableEnded) return 'pending';
    return { reason: 'peer-closed', error: null, taken: false }; // seen, and left half open
  }
  const r = native.peek(entry.fd);
  if (r === 1) return 'pending'; // data queued before the FIN: the application may yet read it
  if (r < 0) {
    // An error that arrived since the event: the peek took it, as any read does.
    const error = readError(-failure(r).errno!);
    return { reason: reasonOf(error), error, taken: true };
  }
  return { reason: 'peer-closed', error: null, taken: false };
}

/**
 * Refuses, now, what could not be watched as asked: anything but TCP (a Unix domain socket has
 * no keepalive, no TCP_INFO and no TCP states), and heartbeats or idle events where TCP_INFO
 * lacks the last-receive times they read (an emulator such as qemu-user fills 4 bytes):
 * nothing is accepted and then silently never checked. The transport comes from Node's handle
 * (no syscall); TCP_INFO is read only when heartbeats or idle events need it.
 */
export function refuseUnwatchable(target: net.Socket | net.Server, fd: number, config: Config): void {
  const transport = transportOf(target);
  if (transport !== null && transport !== 'tcp') throw notTcp(transport);
  if (fd < 0 || (!config.heartbeat && !config.idle)) return;
  if (filled === undefined) {
    const length = tcpInfoLength(fd);
    if (length < 0) throw failure(length);
    filled = { length, lastHeard: silenceOf(fd) !== null };
  }
  if (!filled.lastHeard) throw shortTcpInfo(filled.length);
}

// How much of TCP_INFO the kernel (or an emulator) fills is the same for every TCP socket of
// the process: read it once, at the first add that needs it, not twice per add.
let filled: { length: number; lastHeard: boolean } | undefined;
