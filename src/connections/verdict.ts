// The verdict on one socket, in the library's vocabulary, with the reason a user can act on.
import type { RawSocket } from './snapshot';

/**
 * - `ok`: nothing to do.
 * - `close-wait-leak`: the peer closed (FIN) longer than `closeWait` ago and the application never
 *   closed its end: the fd stays open until the process exits.
 * - `unguarded`: established with no keepalive and no user timeout: a peer that vanishes without
 *   a word (power loss, a dropped route) goes unnoticed for ever.
 * - `stalled`: unacknowledged data with nothing heard from the peer, or a zero window, for longer
 *   than `stalled`.
 * - `dead`: the kernel has already ended it (reset or timed out) and the application still holds it.
 */
export type ConnectionVerdict = 'ok' | 'close-wait-leak' | 'unguarded' | 'stalled' | 'dead';

/** Worst first: the order the inventory is sorted in. */
export const VERDICTS: readonly ConnectionVerdict[] = ['dead', 'close-wait-leak', 'stalled', 'unguarded', 'ok'];

export interface Thresholds {
  /** ms a connection may stay in CLOSE_WAIT before it counts as a leak. */
  closeWait: number;
  /** ms of unacknowledged data (or a zero window) before a connection counts as stalled. */
  stalled: number;
}

/**
 * An application that closes on 'end' leaves CLOSE_WAIT within a turn of its event loop, so 10 s
 * is already far past any honest delay. Stalled: by 10 s the kernel has retransmitted about six
 * times (RTO 200 ms doubling) without an answer, well past a congested network's hiccup.
 */
export const DEFAULT_THRESHOLDS: Readonly<Thresholds> = Object.freeze({ closeWait: 10_000, stalled: 10_000 });

export interface Judgement {
  verdict: ConnectionVerdict;
  reason: string;
}

/** Judges a socket the process holds, or one no fd holds any more (TIME_WAIT, orphans). */
export function judge(s: RawSocket, t: Thresholds): Judgement {
  if (s.fd === null) return { verdict: 'ok', reason: orphanReason(s) };
  if (s.state === 'SYN_SENT') {
    // Nothing heard yet, so no clock to judge by (the kernel's "last heard" times start at the
    // connection): connect()'s own timeout is what ends it.
    return { verdict: 'ok', reason: `connecting${s.timer.count > 0 ? `: ${s.timer.count} SYNs unanswered` : ''}` };
  }
  if (s.state === 'CLOSE') {
    return { verdict: 'dead', reason: 'the kernel has ended it (reset or timed out); the application still holds its fd' };
  }
  // The FIN was the peer's last word (rcv_tstamp updates on every ACK it sends, FIN included):
  // the time since it is a lower bound of the time spent in CLOSE_WAIT.
  const closedAgo = s.state === 'CLOSE_WAIT' ? s.lastAckReceived : null;
  if (s.state === 'CLOSE_WAIT' && (closedAgo === null || closedAgo >= t.closeWait)) {
    const when = closedAgo === null ? 'at an unknown time' : `${seconds(closedAgo)} ago`;
    return { verdict: 'close-wait-leak', reason: `the peer closed ${when}; the application never closed its end` };
  }
  const stall = stalledFor(s);
  if (stall !== null && stall.ms >= t.stalled) return { verdict: 'stalled', reason: stall.reason };
  if (closedAgo !== null) return { verdict: 'ok', reason: `the peer closed ${seconds(closedAgo)} ago; not yet a leak` };
  if (s.state === 'ESTABLISHED') {
    const guard = guarded(s);
    if (guard === false) {
      return {
        verdict: 'unguarded',
        reason: s.keepAlive
          ? 'no keepalive and no user timeout: a vanished peer goes unnoticed'
          : 'no keepalive timer: a vanished peer goes unnoticed (a user timeout, if any, is not visible from outside the process)',
      };
    }
    return { verdict: 'ok', reason: guard === null ? 'busy; guarded or not cannot be told from outside the process' : guardReason(s) };
  }
  return { verdict: 'ok', reason: stall ? stall.reason : s.state === 'LISTEN' ? 'listening' : 'in transition' };
}

/** How long it has waited on the peer, when it has data the peer has not acknowledged or a zero window. */
function stalledFor(s: RawSocket): { ms: number; reason: string } | null {
  if (s.timer.kind === 'zero-window-probe' && s.lastDataSent !== null) {
    return { ms: s.lastDataSent, reason: `the peer's receive window is zero: nothing sent for ${seconds(s.lastDataSent)} (${s.timer.count} probes unanswered)` };
  }
  const waiting = (s.unacked ?? 0) > 0 || (s.timer.kind === 'retransmit' && s.sendQueue > 0);
  if (!waiting || s.lastAckReceived === null) return null;
  const retries = s.timer.kind === 'retransmit' ? `, ${s.timer.count} retransmissions` : '';
  return { ms: s.lastAckReceived, reason: `${s.sendQueue} bytes unacknowledged, nothing heard from the peer for ${seconds(s.lastAckReceived)}${retries}` };
}

/** true: keepalive or a user timeout guards it; false: nothing does; null: cannot be told. */
function guarded(s: RawSocket): boolean | null {
  if (s.keepAlive) return s.keepAlive.enable || s.keepAlive.userTimeout > 0;
  // From outside: an established socket's only other timer (sk_timer) is keepalive's, armed
  // exactly while SO_KEEPALIVE is on. A pending retransmission hides it.
  if (s.timer.kind === 'keepalive') return true;
  if (s.timer.kind === 'none') return false;
  return null;
}

function guardReason(s: RawSocket): string {
  const ka = s.keepAlive;
  if (!ka) return `keepalive timer due in ${seconds(s.timer.expiresIn ?? 0)}`;
  const parts: string[] = [];
  if (ka.enable) parts.push(`keepalive after ${seconds(ka.idle)} idle, ${ka.count} probes ${seconds(ka.interval)} apart`);
  if (ka.userTimeout > 0) parts.push(`user timeout ${seconds(ka.userTimeout)}`);
  return parts.join('; ');
}

function orphanReason(s: RawSocket): string {
  if (s.state === 'TIME_WAIT') return `closed; the kernel keeps its port pair for ${seconds(s.timer.expiresIn ?? 0)} more`;
  return 'closed by the application; the kernel finishes the goodbye';
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}
