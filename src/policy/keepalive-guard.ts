// The policy wins over later setKeepAlive calls. Most clients call Node's
// `socket.setKeepAlive(true, ms)` once connected (ioredis: 30 s on every connect; http.Agent
// with keepAlive: true whenever a socket goes back to its pool), and libuv then sets
// TCP_KEEPINTVL to 1 s and TCP_KEEPCNT to 10, silently undoing the policy's interval and count.
//
// The guard sits on the connection's TCP handle, not on the socket: every way of calling
// setKeepAlive ends there (net.Socket's method, a TLSSocket's, whose TLSWrap forwards to the
// TCP handle it wraps, and a server's `keepAlive: true` calling the handle directly), and a
// handle lives exactly as long as one connection. It is an own property of matched handles
// only: unmatched connections never meet it.
//
// Node's call goes through first, so Node's own bookkeeping stays as it expects; the policy's
// fields are then applied again, so the kernel ends up holding them. Fields the policy does not
// set stay as the caller left them.
import type * as net from 'node:net';
import { applyKeepAlive, type KeepAliveArgs } from '../keepalive';

export interface TcpHandle {
  setKeepAlive(enable: boolean, delay: number): number;
  getpeername?: unknown;
  _parent?: TcpHandle;
}

/** What the guard needs of a policy: its settings, and whether it is still open. */
export interface Keeper {
  readonly keepAlive: KeepAliveArgs | null;
  readonly closed: boolean;
  reapplied: number;
}

/** The TCP handle under a socket (a TLSSocket's TLSWrap forwards to its `_parent`), or null when it is not TCP. */
export function tcpHandleOf(socket: net.Socket): TcpHandle | null {
  let handle = (socket as unknown as { _handle?: TcpHandle | null })._handle;
  if (handle && handle._parent !== undefined) handle = handle._parent;
  // Pipes and JS streams under TLS have no setKeepAlive: only TCP does.
  return handle && typeof handle.setKeepAlive === 'function' ? handle : null;
}

export function guardKeepAlive(handle: TcpHandle, socket: net.Socket, keeper: Keeper): void {
  const nodes = handle.setKeepAlive; // the prototype's native method
  handle.setKeepAlive = function setKeepAlive(this: TcpHandle, ...args: [boolean, number]): number {
    const r = nodes.apply(this, args);
    if (keeper.closed) {
      delete (handle as Partial<TcpHandle>).setKeepAlive; // a closed policy leaves Node alone from now on
    } else {
      try {
        applyKeepAlive(socket, keeper.keepAlive!);
        keeper.reapplied++;
      } catch {
        // The socket closed under the caller: there is nothing left to keep.
      }
    }
    return r;
  };
}
