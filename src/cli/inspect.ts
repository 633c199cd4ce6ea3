// `tcp-liveness inspect [pid]`: the connection inventory of a process, as a table or JSON.
// Exit codes: 0 done, 1 unexpected failure, 2 bad usage, 3 no such process, 4 not permitted.
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { connections, type Connections, type ConnectionsOptions } from '../connections';
import { writeJson } from './json';
import { renderTable } from './table';

const USAGE = `usage: tcp-liveness inspect [pid] [--json] [--watch <ms>] [--close-wait <ms>] [--stalled <ms>]

Every TCP connection of a process: state, queues, the kernel's timer, last traffic and a verdict
(ok, close-wait-leak, unguarded, stalled, dead), worst first. Without a pid: lists Node processes.`;

export const EXIT = { ok: 0, failure: 1, usage: 2, noProcess: 3, notPermitted: 4 } as const;

interface Args {
  pid: number | null;
  json: boolean;
  watch: number | null;
  options: ConnectionsOptions;
}

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { pid: null, json: false, watch: null, options: {} };
  const ms = (flag: string, value: string | undefined) => {
    const n = Number(value);
    if (value === undefined || value === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag} takes a time in ms (a number >= 0), got ${value ?? 'nothing'}`);
    return n;
  };
  if (argv[0] !== 'inspect') throw new UsageError(argv[0] === undefined ? 'a command is needed' : `unknown command ${argv[0]}`);
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') args.json = true;
    else if (a === '--watch') args.watch = Math.max(ms(a, argv[++i]), 100);
    else if (a === '--close-wait') args.options.closeWait = ms(a, argv[++i]);
    else if (a === '--stalled') args.options.stalled = ms(a, argv[++i]);
    else if (a === '-h' || a === '--help') throw new UsageError('');
    else if (/^\d+$/.test(a) && args.pid === null) args.pid = Number(a);
    else throw new UsageError(`unexpected argument ${a}`);
  }
  if (args.pid !== null && (args.pid < 1 || args.pid > 2 ** 31 - 1)) throw new UsageError(`no such pid: ${args.pid}`);
  return args;
}

/** Runs the command; resolves with the exit code. */
export async function main(argv: readonly string[], out = process.stdout, err = process.stderr): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err.write(`${e.message ? `tcp-liveness: ${e.message}\n` : ''}${USAGE}\n`);
    return e.message ? EXIT.usage : EXIT.ok;
  }
  if (args.pid === null) {
    const pid = await pick(out);
    if (pid === null) return EXIT.ok;
    args.pid = pid;
  }
  const title = `pid ${args.pid} (${commandOf(args.pid) ?? '?'})`;
  for (let first = true; ; first = false) {
    let inv: Connections;
    try {
      inv = connections({ ...args.options, pid: args.pid });
    } catch (e) {
      return refusal(e as NodeJS.ErrnoException, args.pid, err);
    }
    // Indented only for a person reading one inventory on a terminal. A pipe gets one line: what
    // a script parses (a third smaller at 15,000 connections, and faster to make and to write),
    // and with --watch one line per refresh.
    const indent = args.watch === null && out.isTTY === true ? 2 : undefined;
    if (args.json) await writeJson(out, toJson(inv), indent);
    else out.write(`${!first && out.isTTY ? '\x1b[H\x1b[2J' : ''}${renderTable(inv, title)}\n${args.watch === null ? '' : '\n'}`);
    if (args.watch === null) return EXIT.ok;
    await new Promise((resolve) => setTimeout(resolve, args.watch!));
  }
}

/** The --json contract: { summary: { states, verdicts, fds, fdLimit, … }, connections: [ { state, verdict, timer: { kind, expiresIn }, … } ], listeners }. */
export function toJson(inv: Connections): Record<string, unknown> {
  // Only entries naming a net.Socket or net.Server (this process's own) are copied without it.
  // Another process's never name one, and a copy of each of 15,000 entries, dropping nothing,
  // took some 35 ms.
  return {
    summary: inv.summary,
    connections: inv.connections.map((c) => ('socket' in c ? withoutKey(c, 'socket') : c)),
    listeners: inv.listeners.map((l) => ('server' in l ? withoutKey(l, 'server') : l)),
  };
}

function withoutKey<T extends object, K extends keyof T>(entry: T, key: K): Omit<T, K> {
  const { [key]: _dropped, ...rest } = entry;
  return rest;
}

function refusal(e: NodeJS.ErrnoException, pid: number, err: NodeJS.WritableStream): number {
  if (e.code === 'ESRCH') {
    err.write(`tcp-liveness: no process with pid ${pid}\n`);
    return EXIT.noProcess;
  }
  if (e.code === 'EACCES' || e.code === 'EPERM') {
    const why = e.syscall === 'setns' || e.syscall === 'open'
      ? `it lives in another network namespace, and entering it needs root (CAP_SYS_ADMIN)`
      : `it belongs to another user; only its owner or root may read its file descriptors`;
    err.write(`tcp-liveness: not permitted to inspect process ${pid}: ${why} (${e.message})\n`);
    return EXIT.notPermitted;
  }
  err.write(`tcp-liveness: could not inspect process ${pid}: ${e.message}\n`);
  return EXIT.failure;
}

function commandOf(pid: number): string | null {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    return argv.length ? argv.join(' ').slice(0, 80) : null;
  } catch {
    return null;
  }
}

/** Node processes on the machine (their executable's name says node). */
export function nodeProcesses(): Array<{ pid: number; command: string }> {
  const found: Array<{ pid: number; command: string }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      // comm is the main thread's name: "node" up to Node 22, but Node 24 names it "MainThread"
      // and Node 26 "node-MainThread". So the executable's own name (argv[0]) counts too.
      const comm = readFileSync(`/proc/${name}/comm`, 'utf8').trim();
      const exe = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0')[0].split('/').pop();
      const named = comm === 'node' || comm.startsWith('node ') || comm === 'nodejs' || comm === 'node-MainThread';
      if (!named && exe !== 'node' && exe !== 'nodejs') continue;
      found.push({ pid: Number(name), command: commandOf(Number(name)) ?? comm });
    } catch {
      // exited while we looked
    }
  }
  return found.sort((a, b) => a.pid - b.pid);
}

/** Lists Node processes; on a terminal, asks which one to inspect. */
async function pick(out: NodeJS.WriteStream): Promise<number | null> {
  const list = nodeProcesses();
  if (list.length === 0) {
    out.write('no Node processes found; give a pid: tcp-liveness inspect <pid>\n');
    return null;
  }
  out.write(`${'PID'.padStart(8)}  COMMAND\n${list.map((p) => `${String(p.pid).padStart(8)}  ${p.command}`).join('\n')}\n`);
  if (!process.stdin.isTTY) {
    out.write('\ninspect one: tcp-liveness inspect <pid>\n');
    return null;
  }
  const rl = createInterface({ input: process.stdin, output: out });
  try {
    for (;;) {
      const answer = (await new Promise<string>((resolve) => rl.question('pid to inspect (empty to quit): ', resolve))).trim();
      if (answer === '') return null;
      if (list.some((p) => String(p.pid) === answer)) return Number(answer);
      out.write(`${answer} is not in the list\n`);
    }
  } finally {
    rl.close();
  }
}
