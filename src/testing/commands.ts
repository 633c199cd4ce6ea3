// Running the commands the harness is built on (iproute2's `ip` and `ss`) and looking at
// processes: shared by the hosts, the network and the cleanup.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Runs a command synchronously; true when it exited 0. */
export function commandWorks(command: string, args: readonly string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Runs a command and resolves with its stdout; rejects with its stderr when it fails. */
export function run(command: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** `ip -n <ns> -batch -`: one process for a list of commands in one namespace (null: this one). */
export function ipBatch(ns: string | null, lines: readonly string[]): Promise<string> {
  return run('ip', [...(ns === null ? [] : ['-n', ns]), '-batch', '-'], `${lines.join('\n')}\n`);
}

/**
 * `ss -K` over every TCP socket in the namespace. Orphaned sockets (a FIN still unacknowledged)
 * would otherwise keep a deleted namespace, and its veth, alive for minutes after the name is
 * gone; a reboot needs the kernel to forget every connection.
 */
const abortTcpArgs = (ns: string) => ['-N', ns, '-K', '-t', '-a'];

export function abortTcp(ns: string): Promise<string> {
  return run('ss', abortTcpArgs(ns));
}

export function abortTcpSync(ns: string): boolean {
  return commandWorks('ss', abortTcpArgs(ns));
}

function parsePids(out: string): number[] {
  return out.split('\n').filter(Boolean).map(Number);
}

/** The processes in a network namespace ([] when it is gone). */
export function pidsSync(ns: string): number[] {
  try {
    return parsePids(execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return [];
  }
}

export async function pids(ns: string): Promise<number[]> {
  try {
    return parsePids(await run('ip', ['netns', 'pids', ns]));
  } catch {
    return [];
  }
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function stopped(pid: number): boolean {
  try {
    // The state follows the command name, which is in parentheses and may hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^[tT]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return true; // gone counts as not running
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
