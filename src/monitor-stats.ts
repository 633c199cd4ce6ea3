// What a LivenessMonitor counts: sockets added and removed, deaths by reason, heartbeats, idle
// events, and how long dead peers had been silent (monitor.stats()).

export type DeadReason = 'peer-closed' | 'reset' | 'timeout' | 'unreachable' | 'heartbeat' | 'error';

export interface MonitorStats {
  /** Sockets watched now. */
  watched: number;
  /** Servers whose accepted connections are added. */
  servers: number;
  /** Sockets ever added. */
  added: number;
  /** Sockets that closed (for any reason) while watched, or were deleted. */
  removed: number;
  dead: Record<DeadReason, number>;
  heartbeats: number;
  idle: number;
  /**
   * How long the peer had been silent (ms since the kernel last received data or an ACK) when a
   * socket was declared dead: for a keepalive timeout about idle + interval × count. Over the
   * last 1024 deaths.
   */
  silence: { count: number; p50: number; p99: number; max: number };
}

const REASONS: readonly DeadReason[] = ['peer-closed', 'reset', 'timeout', 'unreachable', 'heartbeat', 'error'];

export class MonitorCounters {
  added = 0;
  removed = 0;
  heartbeats = 0;
  idle = 0;
  readonly #dead = Object.fromEntries(REASONS.map((r) => [r, 0])) as Record<DeadReason, number>;
  readonly #silence = new Float64Array(1024); // a ring of the last deaths' silences, ms
  #silenceCount = 0;

  /** A death; `silence`: ms the peer had been silent, when the kernel could still say. */
  dead(reason: DeadReason, silence: number | null): void {
    this.#dead[reason]++;
    if (silence !== null) this.#silence[this.#silenceCount++ % this.#silence.length] = silence;
  }

  snapshot(watched: number, servers: number): MonitorStats {
    const n = Math.min(this.#silenceCount, this.#silence.length);
    const sorted = Array.from(this.#silence.subarray(0, n)).sort((a, b) => a - b);
    const pick = (q: number) => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.floor(q * n))]);
    return {
      watched,
      servers,
      added: this.added,
      removed: this.removed,
      dead: { ...this.#dead },
      heartbeats: this.heartbeats,
      idle: this.idle,
      silence: { count: this.#silenceCount, p50: pick(0.5), p99: pick(0.99), max: n === 0 ? 0 : sorted[n - 1] },
    };
  }
}
