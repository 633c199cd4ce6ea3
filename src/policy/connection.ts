// What a policy's `match` sees of one connection. The addresses are read on first use, not
// up front: each is a getpeername/getsockname syscall, and a match that only looks at
// `remotePort` should pay for one, a policy without `match` for none.
//
// The ports come from the addon, which returns the number alone: Node's getters format the
// address string and build an object for it too (about 4 µs a connection, where most matches
// only compare a port). When the addon cannot say (no fd any more, the socket closed in
// between), Node's own getter answers, so the result is always what Node would give.
import type * as net from 'node:net';
import { native } from '../binding';
import { currentFd } from '../target';

// Off Linux every port is Node's: the addon there only says unsupported, and a package that
// loaded without its binary has no port() to call at all.
const portsFromAddon = native.supported;

export type Direction = 'outbound' | 'inbound';

/**
 * The hook that found the connection: one of Node's diagnostics channels, or the fallback
 * around `Socket.prototype.connect` on a Node whose channel does not fire for that connect.
 */
export type Via = 'net.client.socket' | 'net.server.socket' | 'undici:client:connected' | 'connect-fallback';

export class PolicyConnection {
  // The peer's port once read: Node keeps a socket's peer address once read, and gives it
  // still after the socket closed (its local address it does not: no cache for localPort).
  #remotePort: number | undefined = undefined;

  constructor(
    /** The socket that connected (for TLS: the TLSSocket that connected, or the TCP socket a TLS server accepted). */
    readonly socket: net.Socket,
    /** 'outbound': this process connected; 'inbound': a server of this process accepted it. */
    readonly direction: Direction,
    /** Which hook found it. */
    readonly via: Via,
  ) {}

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    if (this.#remotePort !== undefined) return this.#remotePort;
    const socket = this.socket;
    // Node has no peer for a socket still connecting (net.Socket#_getpeername).
    const fd = portsFromAddon && !socket.connecting ? currentFd(socket) : -1;
    const port = fd >= 0 ? native.port(fd, true) : -1;
    if (port < 0) return socket.remotePort;
    this.#remotePort = port;
    return port;
  }

  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  get localPort(): number | undefined {
    const fd = portsFromAddon ? currentFd(this.socket) : -1;
    const port = fd >= 0 ? native.port(fd, false) : -1;
    return port >= 0 ? port : this.socket.localPort;
  }

  /** Plain data, so `console.log(c)` shows the addresses rather than the getters. */
  toJSON(): object {
    const { direction, via, remoteAddress, remotePort, localAddress, localPort } = this;
    return { direction, via, remoteAddress, remotePort, localAddress, localPort };
  }
}
