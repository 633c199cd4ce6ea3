// What a policy's `match` sees of one connection. The addresses are read on first use, not
// up front: each is a getpeername/getsockname syscall, and a match that only looks at
// `remotePort` should pay for one, a policy without `match` for none.
import type * as net from 'node:net';

export type Direction = 'outbound' | 'inbound';

/**
 * The hook that found the connection: one of Node's diagnostics channels, or the fallback
 * around `Socket.prototype.connect` on a Node whose channel does not fire for that connect.
 */
export type Via = 'net.client.socket' | 'net.server.socket' | 'undici:client:connected' | 'connect-fallback';

export class PolicyConnection {
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
    return this.socket.remotePort;
  }

  get localAddress(): string | undefined {
    return this.socket.localAddress;
  }

  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  /** Plain data, so `console.log(c)` shows the addresses rather than the getters. */
  toJSON(): object {
    const { direction, via, remoteAddress, remotePort, localAddress, localPort } = this;
    return { direction, via, remoteAddress, remotePort, localAddress, localPort };
  }
}
