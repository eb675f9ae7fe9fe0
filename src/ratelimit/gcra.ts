// Token bucket as GCRA: the whole state of a bucket is one number, the theoretical
// arrival time (TAT) of the next request once the bucket is drained. A bucket of size
// `burst` refilling at `rate` tokens/s admits a request at `now` when
// TAT + interval - burst * interval <= now. The Redis Lua script mirrors this function.

export interface BucketLimits {
  /** Tokens added per second. */
  readonly rate: number;
  /** Bucket size: how many requests a fresh client may send at once. */
  readonly burst: number;
}

export interface BucketDecision {
  readonly allowed: boolean;
  /** The TAT to store (unchanged when refused). */
  readonly tat: number;
  /** Whole tokens left after this request. */
  readonly remaining: number;
  /** Milliseconds until the bucket is full again. */
  readonly resetMs: number;
  /** Milliseconds until one token is available (0 when allowed). */
  readonly retryAfterMs: number;
}

/** Decides one request against a bucket. `storedTat` is undefined for a new bucket. */
export function takeToken(limits: BucketLimits, storedTat: number | undefined, now: number): BucketDecision {
  const interval = 1000 / limits.rate;
  const capacity = limits.burst * interval;
  const tat = Math.max(storedTat ?? now, now);
  const nextTat = tat + interval;
  const allowAt = nextTat - capacity;
  if (allowAt > now) {
    return { allowed: false, tat, remaining: 0, resetMs: tat - now, retryAfterMs: allowAt - now };
  }
  return {
    allowed: true,
    tat: nextTat,
    remaining: Math.floor((capacity - (nextTat - now)) / interval + 1e-9),
    resetMs: nextTat - now,
    retryAfterMs: 0,
  };
}
