// The guarantee that test hosts never outlive the run: a registry of live networks removed on
// exit and on SIGINT/SIGTERM/SIGHUP, and a sweep of what a process killed outright left behind.
import { execFileSync } from 'node:child_process';
import { abortTcpSync, alive, commandWorks, pidsSync, signal } from './commands';
import { sweepReach } from './reach';

/** What the registry needs of a network: to be removed without waiting. */
interface Removable {
  destroySync(): void;
}

const live = new Set<Removable>();
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function onExit(): void {
  for (const network of [...live]) network.destroySync();
  // The guard route stays registered for the process's life: let go of it too.
  live.clear();
  watchProcess(false);
}

function onSignal(sig: NodeJS.Signals): void {
  onExit();
  // Die of the signal as if we had never listened, unless someone else handles it.
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

function watchProcess(on: boolean): void {
  if (on) {
    process.on('exit', onExit);
    for (const sig of SIGNALS) process.on(sig, onSignal);
  } else {
    process.off('exit', onExit);
    for (const sig of SIGNALS) process.off(sig, onSignal);
  }
}

/** From now on, an exit or a signal removes the network. */
export function register(network: Removable): void {
  if (live.size === 0) watchProcess(true);
  live.add(network);
}

/** The network is gone (or going): the exit handler no longer needs to. */
export function unregister(network: Removable): void {
  live.delete(network);
  if (live.size === 0) watchProcess(false);
}

function listNamespaces(): string[] {
  try {
    return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
  } catch {
    return [];
  }
}

/** Kills every process in a namespace, aborts every TCP socket left in it and deletes it. */
export function destroyNamespaceSync(ns: string): void {
  for (const pid of pidsSync(ns)) signal(pid, 'SIGKILL');
  abortTcpSync(ns);
  commandWorks('ip', ['netns', 'del', ns]);
}

/**
 * Removes the hosts a crashed run left behind: namespaces named `<prefix>-<pid>-…` whose
 * process is gone, with every process still in them, and in this namespace their uplinks and
 * the process's guard route. What belongs to running processes is left alone. Returns what it
 * removed: namespace names, then `link <name>` and `route unreachable <range> proto 231 metric <pid>`
 * entries. createTestNetwork() does this once per process.
 */
export function sweep(prefix = 'tl'): string[] {
  const pattern = new RegExp(`^${prefix.replace(/[^\w-]/g, '\\$&')}-(\\d+)-`);
  const removed: string[] = [];
  for (const ns of listNamespaces()) {
    const m = pattern.exec(ns);
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
    destroyNamespaceSync(ns);
    removed.push(ns);
  }
  // Uplinks normally die with their namespace, but only when the kernel gets to it.
  removed.push(...sweepReach(pattern));
  return removed;
}

/** Network namespaces this process has made and not yet removed (for leak checks). */
export function liveNamespaces(prefix = 'tl'): string[] {
  return listNamespaces().filter((ns) => ns.startsWith(`${prefix}-${process.pid}-`));
}
