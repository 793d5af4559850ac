// Exponential backoff with full jitter: the delay before retry n (0-based) is uniform in
// [0, min(capMs, baseMs * 2^n)]. With base 25 ms and cap 2 s: retry 0 waits up to 25 ms,
// retry 3 up to 200 ms, retry 6 and later up to 1.6 s then 2 s. Full jitter spreads a fleet of
// writers that failed together, so they do not come back as a herd.

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 25, capMs: 2_000 };

export function computeBackoffMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
