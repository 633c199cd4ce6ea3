// policy(): one call that tunes, and optionally watches, every TCP connection this thread makes
// or accepts from then on, whoever makes it (pg, ioredis, fetch, http.Agent, a server).
import { parsePolicyOptions, type PolicyOptions } from './options';
import { register, unregister, type OpenPolicy } from './registry';

export type { PolicyOptions } from './options';
export type { PolicyConnection, Direction, Via } from './connection';

export interface PolicyStats {
  /** Connections this policy took. */
  matched: number;
  /** Times a later `setKeepAlive` call on one of them was followed by the policy's settings again. */
  reapplied: number;
  /** Connections it could not tune or add to its monitor (they closed in between, or the monitor was closed). */
  failed: number;
}

export interface Policy {
  /** Stops taking connections and removes its hooks. Connections already taken keep their settings; later setKeepAlive calls on them are Node's again. Idempotent. */
  close(): void;
  readonly closed: boolean;
  stats(): PolicyStats;
}

class PolicyHandle implements Policy {
  readonly #state: OpenPolicy;

  constructor(state: OpenPolicy) {
    this.#state = state;
  }

  get closed(): boolean {
    return this.#state.closed;
  }

  close(): void {
    if (this.#state.closed) return;
    this.#state.closed = true;
    unregister(this.#state);
  }

  stats(): PolicyStats {
    const { matched, reapplied, failed } = this.#state;
    return { matched, reapplied, failed };
  }
}

/**
 * Applies `keepAlive` to every TCP connection made or accepted from now on that `match`
 * accepts (all of them without `match`), keeps it there against later `socket.setKeepAlive`
 * calls, and adds each to `monitor`. The newest open policy that matches a connection takes
 * it. Every option is checked before anything is hooked.
 */
export function policy(options: PolicyOptions): Policy {
  const rules = parsePolicyOptions(options);
  const state: OpenPolicy = { ...rules, closed: false, matched: 0, reapplied: 0, failed: 0 };
  register(state);
  return new PolicyHandle(state);
}
