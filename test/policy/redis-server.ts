// A real redis-server (Debian's package) on loopback for one test: its own temporary folder,
// a free port, no persistence; stopped and its folder removed by close(), also on failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** The binary, or an error naming the Debian package that provides it. */
function installed(binary: string, pkg: string): string {
  for (const dir of (process.env.PATH ?? '').split(':').concat('/usr/sbin', '/usr/bin')) {
    if (dir && fs.existsSync(path.join(dir, binary))) return path.join(dir, binary);
  }
  throw new Error(`${binary} is not installed: apt-get install ${pkg}`);
}

export interface RedisServer {
  port: number;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once the server answers PING; rejects if it exits or stays silent for `ms`. */
async function answersPing(port: number, child: ChildProcess, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server exited (${child.exitCode ?? child.signalCode})`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      let reply = '';
      s.setTimeout(500, () => s.destroy());
      s.on('connect', () => s.write('PING\r\n'));
      s.on('data', (d) => {
        reply += d;
        if (reply.includes('\r\n')) s.end();
      });
      s.on('close', () => resolve(reply.startsWith('+PONG')));
      s.on('error', () => {});
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server did not answer on port ${port} within ${ms} ms`);
}

export async function startRedis(): Promise<RedisServer> {
  const binary = installed('redis-server', 'redis-server');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tl-policy-redis-'));
  let lastError: unknown;
  // A port found free can be taken by another process before redis binds it: try a few.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(binary, [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no',
      '--daemonize', 'no', '--logfile', '',
    ], { stdio: 'ignore' });
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    };
    try {
      await answersPing(port, child, 5000);
    } catch (err) {
      lastError = err;
      await stop();
      continue;
    }
    return {
      port,
      async close() {
        await stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw lastError;
}
