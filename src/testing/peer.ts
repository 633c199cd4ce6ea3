// The peer program's side of a connection or a listener: what a test tells the host's agent to
// do with the connections it holds (write, FIN, RST, stop reading) and what it reports back.
import type * as net from 'node:net';
import type { Agent } from './agent';
import type { Behavior, ConnectionInfo, ConnectionStats } from './testing-agent';

export interface PeerOptions {
  /** 'echo' (default) writes back what it reads; 'sink' reads and drops; 'paused' never reads. */
  behavior?: Behavior;
}

/** A connection the host's agent (the peer program) holds. */
export interface PeerConnection {
  /** The peer's port. */
  readonly localPort: number;
  /** The port of the other end (a socket in this process, or in the other host). */
  readonly remotePort: number;
  readonly remoteAddress: string;
  /** Writes data to the connection. */
  write(data: string | Uint8Array): Promise<void>;
  /** Closes it gracefully: the other side sees a FIN. */
  end(): Promise<void>;
  /** Aborts it: the other side sees an RST (ECONNRESET). */
  reset(): Promise<void>;
  /** Stops reading: once the peer's buffers fill, its kernel advertises a zero window. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Bytes received and sent by the peer, and its view of the connection's state. */
  stats(): Promise<ConnectionStats>;
}

/** A listening socket of the host's agent. */
export interface PeerServer {
  readonly port: number;
  /**
   * The peer's end of a connection it accepted: the one from `from` (the local socket, or its
   * port), or the latest one. Waits up to `timeout` ms (default 5000) for it to arrive.
   */
  accepted(from?: net.Socket | number, timeout?: number): Promise<PeerConnection>;
  close(): Promise<void>;
}

export function peerConnection(agent: Agent, info: ConnectionInfo): PeerConnection {
  const act = async (op: 'end' | 'reset' | 'pause' | 'resume' | 'stats') => (await agent.request({ op, conn: info.conn })).result;
  return {
    localPort: info.localPort,
    remotePort: info.remotePort,
    remoteAddress: info.remoteAddress,
    write: async (data) => {
      await agent.request({ op: 'write', conn: info.conn, data: Buffer.from(data).toString('base64') });
    },
    end: async () => { await act('end'); },
    reset: async () => { await act('reset'); },
    pause: async () => { await act('pause'); },
    resume: async () => { await act('resume'); },
    stats: async () => (await act('stats')) as ConnectionStats,
  };
}

export function peerServer(agent: Agent, server: number, port: number): PeerServer {
  return {
    port,
    accepted: async (from, timeout = 5000) => {
      const remotePort = from === undefined ? null : typeof from === 'number' ? from : from.localPort!;
      const { result } = await agent.request({ op: 'accepted', server, remotePort, timeout });
      return peerConnection(agent, result as ConnectionInfo);
    },
    close: async () => { await agent.request({ op: 'close-server', server }); },
  };
}
