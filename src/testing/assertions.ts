// Timing and assertions: when the kernel's clocks start, when keepalive ends a silent peer by the
// kernel's rule, and waiting for a socket's death and asserting why and when it came.
import { AssertionError } from 'node:assert';
import type * as net from 'node:net';
import { reasonOf } from '../probe';
import { tcpInfo, type TcpInfo } from '../tcp-info';
import type { DeadReason, LivenessMonitor } from '../monitor';

/**
 * When the socket last heard from its peer (data, an ACK, or the answer to a keepalive probe),
 * as a performance.now() time, from TCP_INFO: the moment the kernel's keepalive timer counts the
 * silence from (min(now - lrcvtime, now - rcv_tstamp) in tcp_keepalive_timer).
 */
export function lastHeard(socket: net.Socket): number {
  const info = tcpInfo(socket);
  return performance.now() - Math.min(info.lastDataRecv, info.lastAckRecv);
}

/** Keepalive settings as `keepAliveBound` needs them: all four, `userTimeout` 0 (or left out) for none. */
export interface KeepAliveSettings {
  idle: number;
  interval: number;
  count: number;
  userTimeout?: number;
}

/**
 * When the kernel's keepalive timer ends an idle connection whose peer went silent at
 * `lastHeard`, with `settings` in force from `applied` (both performance.now() times; the result
 * too). The rule of tcp_keepalive_timer (net/ipv4/tcp_timer.c), `idle` and `interval` rounded up
 * to whole seconds as the kernel takes them: the first probe goes out at
 * firstProbe = max(lastHeard + idle, applied) (setKeepAlive sets TCP_KEEPIDLE last, which credits
 * the silence already passed), then one every interval; without userTimeout the connection ends
 * once count probes are unanswered, at firstProbe + interval × count; with it, at the first look
 * that finds the silence >= userTimeout with a probe unanswered, whatever count says. For a
 * listener's accepted socket, which inherits the settings, applied is when it was accepted.
 * Data in flight stops keepalive: then userTimeout ends it, counted from the first timeout
 * retransmission.
 */
export function keepAliveBound(lastHeard: number, applied: number, settings: KeepAliveSettings): number {
  const s = (ms: number) => Math.ceil(ms / 1000) * 1000;
  const idle = s(settings.idle);
  const interval = s(settings.interval);
  const firstProbe = Math.max(lastHeard + idle, applied);
  if (!settings.userTimeout) return firstProbe + interval * settings.count;
  return firstProbe + interval * Math.max(1, Math.ceil((lastHeard + settings.userTimeout - firstProbe) / interval));
}

export interface Death {
  reason: DeadReason;
  error: Error | null;
  /** The error's code (ECONNRESET, ETIMEDOUT, ERR_TCP_LIVENESS_HEARTBEAT, …), or null. */
  code: string | null;
  /** performance.now() when it was reported. */
  at: number;
  /** ms from `since`. */
  elapsed: number;
  /** ms the socket had heard nothing from its peer (no data, no ACK) when it was reported, or null. */
  silence: number | null;
  /** TCP_INFO when it was reported, or null when the socket was already closed. */
  tcp: TcpInfo | null;
  /** Who noticed: the monitor's 'dead' event, or the socket's own 'error' / 'end' / 'close'. */
  via: 'monitor' | 'error' | 'end' | 'close';
}

export interface WaitForDeathOptions {
  /** Watch this monitor's 'dead' events for the socket (it must be watching it). */
  monitor?: LivenessMonitor;
  /** Give up `timeout` ms after `since` and resolve null. */
  timeout: number;
  /**
   * performance.now() time `elapsed` and `timeout` count from, or a promise of it: pass the
   * fault itself (`since: network.b.kill()`), and a death during the fault is still seen.
   * Default: now.
   */
  since?: number | Promise<number>;
}

type Seen = Omit<Death, 'elapsed'>;

/** Listens now for the socket's death, through the monitor and the socket's own events. */
function watchDeath(socket: net.Socket, monitor: LivenessMonitor | undefined, found: (seen: Seen) => void): () => void {
  let ended = false;
  const stop = () => {
    monitor?.off('dead', onDead);
    socket.off('error', onError);
    socket.off('end', onEnd);
    socket.off('close', onClose);
  };
  const report = (death: Pick<Death, 'reason' | 'error' | 'via'>) => {
    stop();
    const at = performance.now();
    let tcp: TcpInfo | null = null;
    try {
      tcp = tcpInfo(socket); // before the monitor destroys it
    } catch {
      // closed already: Node reports errors after destroying the socket
    }
    const code = (death.error as NodeJS.ErrnoException | null)?.code ?? null;
    found({ ...death, code, at, silence: tcp ? Math.min(tcp.lastDataRecv, tcp.lastAckRecv) : null, tcp });
  };
  const onDead = (s: net.Socket, reason: DeadReason, error: Error | null) => {
    if (s === socket) report({ reason, error, via: 'monitor' });
  };
  const onError = (error: NodeJS.ErrnoException) => report({ reason: reasonOf(error), error, via: 'error' });
  const onEnd = () => { ended = true; };
  // 'end' alone is not death (a half-open socket lives on); the close after it is.
  const onClose = () => report(ended ? { reason: 'peer-closed', error: null, via: 'end' } : { reason: 'error', error: null, via: 'close' });
  monitor?.on('dead', onDead);
  socket.on('error', onError);
  socket.on('end', onEnd);
  socket.on('close', onClose);
  return stop;
}

/**
 * Resolves with how the socket died (as its monitor reported it, or as Node reported it on the
 * socket), or null if it was still alive `timeout` ms after `since`.
 */
export async function waitForDeath(socket: net.Socket, options: WaitForDeathOptions): Promise<Death | null> {
  const { monitor, timeout } = options;
  let seen: Seen | null = null;
  let wake: () => void = () => {};
  const stop = watchDeath(socket, monitor, (s) => { seen = s; wake(); });
  try {
    const since = await (options.since ?? performance.now());
    if (seen === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, since + timeout - performance.now()));
        wake = () => { clearTimeout(timer); resolve(); };
      });
    }
    const death = seen as Seen | null;
    return death && { ...death, elapsed: death.at - since };
  } finally {
    stop();
  }
}

export interface AssertDiesOptions {
  monitor?: LivenessMonitor;
  /** The reason expected (or any of several). */
  reason: DeadReason | readonly DeadReason[];
  /** The error code expected, or null for none (a FIN has none). */
  code?: string | null;
  /** performance.now() time the limits count from, or a promise of it (the fault). Default: now. */
  since?: number | Promise<number>;
  /** Not sooner than this many ms after `since`. Default 0. */
  after?: number;
  /** No later than this many ms after `since`. */
  within: number;
}

/** Waits for the socket to die and asserts why and when; returns what happened. */
export async function assertDies(socket: net.Socket, options: AssertDiesOptions): Promise<Death> {
  const { monitor, reason, code, since, after = 0, within } = options;
  const death = await waitForDeath(socket, { monitor, timeout: within, since });
  if (death === null) {
    throw new AssertionError({ message: `the socket was still alive ${within} ms after the fault (expected ${[reason].flat().join(' or ')})` });
  }
  const reasons: readonly DeadReason[] = typeof reason === 'string' ? [reason] : reason;
  const when = `${death.elapsed.toFixed(0)} ms after the fault`;
  if (!reasons.includes(death.reason)) {
    throw new AssertionError({
      message: `the socket died as '${death.reason}' (${death.code ?? 'no error'}, seen via ${death.via}) ${when}; expected '${reasons.join("' or '")}'`,
      actual: death.reason, expected: reasons.length === 1 ? reasons[0] : reasons, operator: 'includes',
    });
  }
  if (code !== undefined && death.code !== code) {
    throw new AssertionError({ message: `the socket died with ${death.code ?? 'no error'}; expected ${code ?? 'no error'}`, actual: death.code, expected: code, operator: 'strictEqual' });
  }
  if (death.elapsed < after) {
    throw new AssertionError({ message: `the socket was reported dead ${when}: sooner than the ${after} ms the kernel allows` });
  }
  if (death.elapsed > within) {
    throw new AssertionError({ message: `the socket was reported dead ${when}: later than ${within} ms` });
  }
  return death;
}

/** Asserts that the socket is not reported dead for `duration` ms. */
export async function assertStaysAlive(socket: net.Socket, options: { monitor?: LivenessMonitor; duration: number }): Promise<void> {
  const death = await waitForDeath(socket, { monitor: options.monitor, timeout: options.duration });
  if (death !== null) {
    throw new AssertionError({
      message: `the socket was reported dead as '${death.reason}' (${death.code ?? 'no error'}) after ${death.elapsed.toFixed(0)} ms; it should have stayed alive for ${options.duration} ms`,
    });
  }
}
