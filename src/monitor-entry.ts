// One watched socket in a LivenessMonitor: what it was registered with, and its heartbeat and
// idle deadlines (runTimers), read from the kernel's clocks of when data last moved.
import type * as net from 'node:net';
import { heartbeatError } from './errors';
import type { Config, IdleKind } from './monitor-options';
import type { Scheduled } from './schedule';

export class Entry implements Scheduled {
  slot = -1;
  /** The fd it was registered with; -1 until registered. Checked before every syscall. */
  fd = -1;
  /** The socket's Node handle when it was registered: while `socket._handle` is still this object, the fd is too. */
  handle: object | null = null;
  addedAt = 0;
  /** When the outstanding heartbeat was sent, or -1. */
  pingAt = -1;
  /** When each idle kind last fired since the last activity (-1: not since); only with idle events. */
  idleAt: number[] | null;
  /**
   * A death is pending and looked at again soon: a FIN behind data the application has not read
   * yet, or an error or FIN that Node's own read is delivering.
   */
  recheck = false;
  /** The monitor saw the peer's FIN and left it to Node's read: its close is reported as peer-closed. */
  finSeen = false;
  onConnect: (() => void) | undefined;
  constructor(readonly id: number, public socket: net.Socket | null, readonly config: Config) {
    this.idleAt = config.idle ? [-1, -1, -1] : null;
  }
}

/** What the deadlines report to the monitor. Each may close the socket (entry.socket then is null). */
export interface TimerHooks {
  die(entry: Entry, reason: 'heartbeat' | 'error', error: Error): void;
  heartbeatSent(): void;
  idle(entry: Entry, kind: IdleKind, first: boolean): void;
}

const IDLE_KINDS: readonly IdleKind[] = ['read', 'write', 'all'];

/** When a newly registered socket's deadlines are first looked at, ms after it was added. */
export function firstCheck(config: Config): number {
  let first = config.heartbeat ? config.heartbeat.interval : Infinity;
  if (config.idle) {
    for (const t of [config.idle.read, config.idle.write, config.idle.all]) if (t > 0 && t < first) first = t;
  }
  return first;
}

/**
 * Runs the heartbeat and idle deadlines at `now`, given how long nothing was received or sent
 * (ms). Returns when to look again (Infinity: not at all), or -1 when the socket is gone.
 */
export function runTimers(entry: Entry, now: number, sinceRecv: number, sinceSent: number, hooks: TimerHooks): number {
  const socket = entry.socket!;
  let next = Infinity;

  const heartbeat = entry.config.heartbeat;
  if (heartbeat) {
    if (entry.pingAt >= 0 && now - sinceRecv >= entry.pingAt - Math.min(10, heartbeat.interval / 2)) {
      entry.pingAt = -1; // something arrived after the heartbeat (within the kernel's ms grain)
    }
    if (entry.pingAt >= 0) {
      if (now - entry.pingAt >= heartbeat.timeout) {
        hooks.die(entry, 'heartbeat', heartbeatError(heartbeat.timeout));
        return -1;
      }
      // Look again soon: the answer's arrival time sets when the next heartbeat is due.
      next = Math.min(entry.pingAt + heartbeat.timeout, now + heartbeat.step);
    } else if (sinceRecv >= heartbeat.interval) {
      entry.pingAt = now;
      hooks.heartbeatSent();
      try {
        heartbeat.send(socket);
      } catch (err) {
        hooks.die(entry, 'error', err as Error);
        return -1;
      }
      if (entry.socket === null) return -1; // send() closed it
      next = now + Math.min(heartbeat.timeout, heartbeat.step);
    } else {
      next = now + heartbeat.interval - sinceRecv;
    }
  }

  const idle = entry.config.idle;
  const idleAt = entry.idleAt;
  if (idle && idleAt) {
    const thresholds = [idle.read, idle.write, idle.all];
    const quiet = [sinceRecv, sinceSent, Math.min(sinceRecv, sinceSent)];
    for (let k = 0; k < 3; k++) {
      const threshold = thresholds[k];
      if (!threshold) continue;
      const activeAt = now - quiet[k];
      // Activity since the last event? The kernel's clock is coarse (a jiffy), so compare with
      // slack: before that event, the last activity was at least a whole threshold earlier.
      if (idleAt[k] >= 0 && activeAt > idleAt[k] - threshold / 2) idleAt[k] = -1;
      const first = idleAt[k] < 0;
      const dueAt = first ? activeAt + threshold : idleAt[k] + threshold;
      if (now >= dueAt) {
        idleAt[k] = now;
        hooks.idle(entry, IDLE_KINDS[k], first);
        if (entry.socket === null) return -1; // a listener closed it
        next = Math.min(next, now + threshold);
      } else {
        next = Math.min(next, dueAt);
      }
    }
  }
  return next;
}
