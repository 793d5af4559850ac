// Failed authentications per source address, with exponential lock-out: after `threshold` failures
// an address is refused for `baseMs`, each further failure doubles that, up to `maxMs`. An address
// quiet for `maxMs` starts again from zero. A success does not clear the count (devices behind one
// NAT share an address, and one good device must not reset another's attack). Bounded LRU.
import { LRUCache } from 'lru-cache';

export interface LockoutPolicy {
  readonly threshold: number;
  readonly baseMs: number;
  readonly maxMs: number;
  /** Addresses tracked at most (LRU). */
  readonly maxSources?: number;
}

interface SourceState {
  failures: number;
  lockedUntilMs: number;
}

export class SourceLockout {
  private readonly sources: LRUCache<string, SourceState>;

  constructor(
    private readonly policy: LockoutPolicy,
    private readonly now: () => number = Date.now,
  ) {
    this.sources = new LRUCache<string, SourceState>({ max: policy.maxSources ?? 100_000, ttl: policy.maxMs });
  }

  /** Milliseconds the address stays locked out, 0 when it may try. */
  lockedForMs(source: string): number {
    const state = this.sources.get(source, { updateAgeOnGet: false });
    return state ? Math.max(0, state.lockedUntilMs - this.now()) : 0;
  }

  /** Counts a failure; returns the lock-out it starts (0 below the threshold). */
  recordFailure(source: string): number {
    const state = this.sources.get(source) ?? { failures: 0, lockedUntilMs: 0 };
    state.failures++;
    let lockMs = 0;
    if (state.failures >= this.policy.threshold) {
      lockMs = Math.min(this.policy.maxMs, this.policy.baseMs * 2 ** Math.min(30, state.failures - this.policy.threshold));
      state.lockedUntilMs = this.now() + lockMs;
    }
    this.sources.set(source, state);
    return lockMs;
  }

  /** Addresses locked out right now (for the gauge). */
  lockedCount(): number {
    const now = this.now();
    let n = 0;
    for (const state of this.sources.values()) if (state.lockedUntilMs > now) n++;
    return n;
  }
}
