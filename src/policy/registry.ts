// The open policies of this thread, and the decision for each new connection: the newest open
// policy whose `match` accepts it takes it; older ones are not asked. So a policy made later
// (a narrower one for the database, say) overrides an earlier catch-all for what it matches,
// and closing it gives those connections back to the earlier one from then on.
//
// Node's hooks are installed while at least one policy is open, and removed with the last.
import type * as net from 'node:net';
import { applyKeepAlive } from '../keepalive';
import type { WatchOptions } from '../monitor';
import { PolicyConnection, type Direction, type Via } from './connection';
import { installHooks, removeHooks } from './hooks';
import { guardKeepAlive, tcpHandleOf, type TcpHandle } from './keepalive-guard';
import type { Rules } from './options';

export interface OpenPolicy extends Rules {
  closed: boolean;
  matched: number;
  reapplied: number;
  failed: number;
}

const open: OpenPolicy[] = [];
const kDecided = Symbol('tcp-liveness policy decided');
// The policy applies keepalive itself and keeps it; the monitor must not apply its own on top.
const MONITOR_WITHOUT_KEEPALIVE: WatchOptions = Object.freeze({ keepAlive: false });

export function register(p: OpenPolicy): void {
  open.push(p);
  if (open.length === 1) installHooks(decide);
}

export function unregister(p: OpenPolicy): void {
  const i = open.indexOf(p);
  if (i < 0) return;
  open.splice(i, 1);
  if (open.length === 0) removeHooks();
}

function decide(socket: net.Socket, direction: Direction, via: Via): void {
  const handle = tcpHandleOf(socket) as (TcpHandle & { [kDecided]?: true }) | null;
  // Not TCP (a Unix socket, TLS over a JS stream), or closed already, or seen by another hook.
  if (handle === null || handle[kDecided]) return;
  handle[kDecided] = true;
  let connection: PolicyConnection | undefined;
  for (let i = open.length - 1; i >= 0; i--) {
    const p = open[i];
    if (p.match !== null) {
      connection ??= new PolicyConnection(socket, direction, via);
      let taken: unknown;
      try {
        taken = p.match(connection);
      } catch (err) {
        // As Node does for a throwing diagnostics_channel subscriber: an uncaught exception,
        // raised outside Node's connect path, with this connection left untouched.
        process.nextTick(() => {
          throw err;
        });
        return;
      }
      if (!taken) continue;
    }
    take(p, socket, handle);
    return;
  }
}

function take(p: OpenPolicy, socket: net.Socket, handle: TcpHandle): void {
  if (p.keepAlive !== null) {
    try {
      applyKeepAlive(socket, p.keepAlive);
    } catch {
      // The connection is the application's: a socket that refuses the settings (it closed in
      // between) is left as it is, and counted.
      p.failed++;
      return;
    }
    guardKeepAlive(handle, socket, p);
  }
  p.matched++;
  if (p.monitor !== null) {
    try {
      p.monitor.add(socket, p.keepAlive !== null ? MONITOR_WITHOUT_KEEPALIVE : undefined);
    } catch {
      p.failed++; // the monitor was closed, or the socket closed in between
    }
  }
}
