// The program tcp-liveness/testing runs inside each test host (`ip netns exec <host> node
// testing-agent.js`). It is the host's end of the story: it makes sockets in the host's network
// namespace and hands them to the test process (which cannot enter a namespace itself), and it
// plays the peer: it accepts and dials connections and closes, resets, echoes or stops reading
// them as it is told. Node builtins only, so it starts fast and ships as one file.
import * as net from 'node:net';

/** How a peer connection treats what arrives. */
export type Behavior = 'echo' | 'sink' | 'paused';

export type AgentRequest =
  | { id: number; op: 'connect'; host: string; port: number; handover: boolean; behavior: Behavior }
  | { id: number; op: 'listen'; host: string; port: number; handover: boolean; behavior: Behavior; backlog: number }
  | { id: number; op: 'accepted'; server: number; remotePort: number | null; timeout: number }
  | { id: number; op: 'write'; conn: number; data: string }
  | { id: number; op: 'end' | 'reset' | 'pause' | 'resume' | 'stats'; conn: number }
  | { id: number; op: 'close-server'; server: number };

export interface ConnectionInfo {
  conn: number;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

export interface ConnectionStats {
  /** Bytes the peer has read from the connection. */
  received: number;
  /** Bytes the peer has written (handed to its kernel). */
  sent: number;
  /** 'open', 'ended' (the other side's FIN arrived), 'closed', or the error code that closed it. */
  state: string;
}

export type AgentReply =
  | { id: number; ok: true; result?: unknown }
  | { id: number; ok: false; error: { message: string; code?: string } };

interface Connection {
  socket: net.Socket;
  received: number;
  sent: number;
  state: string;
}

interface Server {
  server: net.Server;
  accepted: Map<number, number>; // remote port -> connection id
  waiting: Set<{ remotePort: number | null; resolve: (conn: number) => void }>;
}

const connections = new Map<number, Connection>();
const servers = new Map<number, Server>();
let nextId = 1;

interface RawHandle { close(): void }

function reply(message: AgentReply, handle?: unknown): void {
  if (handle === undefined) {
    process.send!(message);
    return;
  }
  // Sent as a raw handle, which Node leaves open in the sender: close ours once it is on its
  // way, or this process would go on accepting on a listener, or keep a connection from closing.
  process.send!(message, handle as net.Socket, {}, () => (handle as RawHandle).close());
}

interface HandleOwner { _handle?: unknown }

function adopt(socket: net.Socket, behavior: Behavior): number {
  const id = nextId++;
  const c: Connection = { socket, received: 0, sent: 0, state: 'open' };
  connections.set(id, c);
  socket.on('error', (err: NodeJS.ErrnoException) => { c.state = err.code ?? 'error'; });
  socket.on('end', () => { if (c.state === 'open') c.state = 'ended'; });
  socket.on('close', () => { if (c.state === 'open' || c.state === 'ended') c.state = 'closed'; });
  if (behavior === 'paused') return id;
  socket.on('data', (chunk: Buffer) => {
    c.received += chunk.length;
    if (behavior === 'echo') {
      c.sent += chunk.length;
      socket.write(chunk);
    }
  });
  return id;
}

function info(conn: number): ConnectionInfo {
  const s = connections.get(conn)!.socket;
  return { conn, localPort: s.localPort!, remoteAddress: s.remoteAddress!, remotePort: s.remotePort! };
}

function connection(conn: number): Connection {
  const c = connections.get(conn);
  if (!c) throw new Error(`no connection ${conn}`);
  return c;
}

async function handle(req: AgentRequest): Promise<{ result?: unknown; handle?: unknown }> {
  switch (req.op) {
    case 'connect': {
      const socket = net.connect({ host: req.host, port: req.port });
      // Paused before it connects, so Node never starts reading: nothing is consumed here
      // that belongs to whoever ends up owning the socket.
      if (req.handover || req.behavior === 'paused') socket.pause();
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      });
      if (req.handover) {
        const handle = (socket as unknown as HandleOwner)._handle;
        (socket as unknown as HandleOwner)._handle = null; // the handle is the test process's now
        return { result: { localPort: socket.localPort, remotePort: socket.remotePort }, handle };
      }
      return { result: info(adopt(socket, req.behavior)) };
    }
    case 'listen': {
      const server = net.createServer({ pauseOnConnect: req.behavior === 'paused' });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: req.host, port: req.port, backlog: req.backlog }, resolve);
      });
      const port = (server.address() as net.AddressInfo).port;
      if (req.handover) {
        // Sent raw and closed here once sent: only the test process accepts on it.
        const handle = (server as unknown as HandleOwner)._handle;
        (server as unknown as HandleOwner)._handle = null;
        return { result: { port }, handle };
      }
      const id = nextId++;
      const s: Server = { server, accepted: new Map(), waiting: new Set() };
      servers.set(id, s);
      server.on('connection', (socket) => {
        const conn = adopt(socket, req.behavior);
        s.accepted.set(socket.remotePort!, conn);
        for (const w of s.waiting) {
          if (w.remotePort === null || w.remotePort === socket.remotePort) {
            s.waiting.delete(w);
            w.resolve(conn);
          }
        }
      });
      return { result: { server: id, port } };
    }
    case 'accepted': {
      const s = servers.get(req.server);
      if (!s) throw new Error(`no server ${req.server}`);
      const found = req.remotePort === null ? [...s.accepted.values()].pop() : s.accepted.get(req.remotePort);
      if (found !== undefined) return { result: info(found) };
      const conn = await new Promise<number>((resolve, reject) => {
        const w = { remotePort: req.remotePort, resolve };
        s.waiting.add(w);
        setTimeout(() => {
          s.waiting.delete(w);
          reject(new Error(`no connection from port ${req.remotePort ?? 'any'} accepted within ${req.timeout} ms`));
        }, req.timeout).unref();
      });
      return { result: info(conn) };
    }
    case 'write': {
      const c = connection(req.conn);
      const data = Buffer.from(req.data, 'base64');
      c.sent += data.length;
      c.socket.write(data);
      return {};
    }
    case 'end':
      connection(req.conn).socket.end();
      return {};
    case 'reset':
      connection(req.conn).socket.resetAndDestroy();
      return {};
    case 'pause':
      // Node reads on until its own buffer is full, then stops: the kernel's window closes after.
      connection(req.conn).socket.pause();
      return {};
    case 'resume':
      connection(req.conn).socket.resume();
      return {};
    case 'stats': {
      const { received, sent, state } = connection(req.conn);
      const stats: ConnectionStats = { received, sent, state };
      return { result: stats };
    }
    case 'close-server': {
      const s = servers.get(req.server);
      if (s) {
        servers.delete(req.server);
        s.server.close();
      }
      return {};
    }
  }
}

process.on('message', (req: AgentRequest) => {
  handle(req).then(
    ({ result, handle: h }) => reply({ id: req.id, ok: true, result }, h),
    (err: NodeJS.ErrnoException) => reply({ id: req.id, ok: false, error: { message: err.message, code: err.code } }),
  );
});
// The test process is gone (or let go): so is the host's program.
process.on('disconnect', () => process.exit(0));
process.send!({ id: 0, ok: true, result: { pid: process.pid } } satisfies AgentReply);
