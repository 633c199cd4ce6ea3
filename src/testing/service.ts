// Programs in a host: running a command as another user, and a real server (PostgreSQL, Redis,
// your own) started and waited for until its port accepts connections.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { sleep } from './commands';

/** Where a user's uid is mapped in this process's user namespace (all of them outside one). */
function mapped(uid: number): boolean {
  try {
    return readFileSync('/proc/self/uid_map', 'utf8').split('\n').filter(Boolean).some((line) => {
      const [inside, , count] = line.trim().split(/\s+/).map(Number);
      return uid >= inside && uid < inside + count;
    });
  } catch {
    return true; // no user namespaces at all: every uid is real
  }
}

function idOf(flag: '-u' | '-g', user: string): number {
  try {
    return Number(execFileSync('id', [flag, user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim());
  } catch {
    throw new Error(`there is no user ${JSON.stringify(user)} on this machine`);
  }
}

/**
 * The command prefix that runs a program as `user`. As root (or wherever the user's uid is
 * mapped), setpriv switches to it in place. In a user namespace that maps only its creator (the
 * rootless runner), that uid does not exist; a nested user namespace then maps the user's uid
 * onto ours, so the program (PostgreSQL refuses euid 0) runs as that user, and the files it
 * makes are this process's own.
 */
export function asUser(user: string): string[] {
  const uid = idOf('-u', user);
  const gid = idOf('-g', user);
  if (mapped(uid)) return ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--init-groups', '--'];
  return ['unshare', '--user', `--map-user=${uid}`, `--map-group=${gid}`, '--'];
}

export interface ServiceOptions {
  /** The TCP port the program listens on in the host: it is ready once a connect to it succeeds. */
  port: number;
  /**
   * Also wait until its output (stdout or stderr) matches this: for servers that accept
   * connections before they serve them (PostgreSQL answers "the database system is starting
   * up" until it logs "ready to accept connections").
   */
  ready?: RegExp;
  /** Run it as this user (e.g. 'postgres'). Default: as this process. */
  user?: string;
  /** How long to wait for the port, ms. Default 30000. */
  timeout?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** A server running in a test host. It is frozen, thawed and killed with the host, and stopped when the network closes. */
export interface Service {
  readonly process: ChildProcess;
  /** Where it listens: the host's address and the port. */
  readonly address: string;
  readonly port: number;
  /** The last 64 KiB of what it wrote to stdout and stderr. */
  output(): string;
  /** Stops it (SIGTERM, then SIGKILL after 10 s) and waits until it has exited. */
  stop(): Promise<void>;
}

const KEEP = 64 * 1024;

/** Waits until `address:port` accepts a connection, the program exits, or time runs out. */
export async function startService(child: ChildProcess, command: string, address: string, options: ServiceOptions): Promise<Service> {
  const { port, timeout = 30_000 } = options;
  let output = '';
  // Read always: a server whose log pipe fills up stops.
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8').on('data', (d: string) => { output = (output + d).slice(-KEEP); });
  }
  let exit: string | null = null;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, sig) => { exit = sig ?? `code ${code}`; resolve(); });
    child.once('error', (err) => { exit = err.message; resolve(); });
  });
  const service: Service = {
    process: child,
    address,
    port,
    output: () => output,
    stop: async () => {
      if (exit !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  const end = performance.now() + timeout;
  for (;;) {
    if (exit !== null) throw new Error(`${command} exited (${exit}) before ${address}:${port} accepted connections:\n${output.slice(-2000)}`);
    if ((!options.ready || options.ready.test(output)) && (await accepts(address, port))) return service;
    if (performance.now() > end) {
      child.kill('SIGKILL');
      throw new Error(`${command} was not ready (${address}:${port}${options.ready ? ` and ${options.ready}` : ''}) within ${timeout} ms:\n${output.slice(-2000)}`);
    }
    await sleep(50);
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}
