// Real sockets on loopback, and the bookkeeping to close them all after each test.
import type * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { once } from 'node:events';

const open = new Set<net.Socket | net.Server>();

export function track<T extends net.Socket | net.Server>(x: T): T {
  open.add(x);
  return x;
}

export async function cleanup(): Promise<void> {
  for (const x of open) {
    if (x instanceof net.Server) x.close();
    else x.destroy();
  }
  open.clear();
}

export async function listen(server = net.createServer()): Promise<net.Server & { port: number }> {
  track(server);
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }); // bursts of connects never wait on SYN retries
  await once(server, 'listening');
  return Object.assign(server, { port: (server.address() as net.AddressInfo).port });
}

/** A connected pair: `client` dialled `server`'s listener; `peer` is the accepted end. */
export async function pair(server?: net.Server): Promise<{ client: net.Socket; peer: net.Socket; server: net.Server }> {
  const srv = server ?? (await listen());
  const accepted = once(srv, 'connection') as Promise<[net.Socket]>;
  const client = track(net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1'));
  await once(client, 'connect');
  const [peer] = await accepted;
  track(peer);
  return { client, peer, server: srv };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until check() is truthy or the time runs out. */
export async function until<T>(check: () => T, ms = 3000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * A connection whose `local` end Node never reads from (accepted with pauseOnConnect), so
 * what the kernel holds (data, FIN, RST, a pending error) stays there; `remote` is the peer.
 * A socket merely pause()d is not that: Node keeps reading it into its own buffer.
 */
export async function pausedPair(): Promise<{ local: net.Socket; remote: net.Socket }> {
  const server = await listen(net.createServer({ pauseOnConnect: true }));
  const { client, peer } = await pair(server);
  return { local: peer, remote: client };
}

/**
 * A bound UDP socket's fd, found the way `ss -p` finds it: the socket's inode from /proc/net/udp
 * (matched by local port), then the entry of /proc/self/fd that links to it. dgram has no public
 * fd, and Node 26 removed the private `_handle` (DEP0112).
 */
export function udpSocketFd(socket: dgram.Socket): number {
  const { port, family } = socket.address();
  const table = fs.readFileSync(family === 'IPv6' ? '/proc/net/udp6' : '/proc/net/udp', 'utf8');
  const suffix = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  // Columns: sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
  const inodes = new Set(table.split('\n').slice(1).map((l) => l.trim().split(/\s+/))
    .filter((c) => c[1]?.endsWith(suffix)).map((c) => `socket:[${c[9]}]`));
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (inodes.has(fs.readlinkSync(`/proc/self/fd/${fd}`))) return Number(fd);
    } catch { /* the directory's own fd, closed by the time it is read */ }
  }
  throw new Error(`no fd of this process is the UDP socket on port ${port}`);
}
