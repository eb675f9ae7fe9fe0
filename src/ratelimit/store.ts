// The contract between the rate-limit policy and where buckets live (this process, or
// Redis shared by every gateway). One call decides a whole request, all its scopes at
// once, so the Redis store costs one round trip per request whatever the scope count.
//
// Only the contract lives here. Which implementation serves a config is decided by
// the one that holds the store across reloads (src/runtime/registry.ts), as Traefik's
// rate-limit middleware picks its limiter in its constructor: the implementations
// import this file, never the other way round.
import type { BucketLimits } from './gcra.ts';

/** What a store answers for one request checked against several buckets. */
export interface TakeResult {
  /** Every bucket admitted the request (and each gave a token), or the store failed and on_store_error is allow. */
  readonly allowed: boolean;
  /**
   * Index (into the keys) of the scope the RateLimit-* headers describe: when refused,
   * the refusing bucket with the longest wait; else the one with the fewest tokens left.
   * -1 when the store could not decide (see `fallback`): there are no numbers to show.
   */
  readonly scope: number;
  /** Whole tokens left in that bucket. */
  readonly remaining: number;
  /** Milliseconds until that bucket is full again. */
  readonly resetMs: number;
  /** Milliseconds until every refusing bucket has a token again (0 when allowed). */
  readonly retryAfterMs: number;
  /** Why on_store_error decided instead of the buckets; undefined for a real decision. */
  readonly fallback: StoreErrorReason | undefined;
}

/** Why a store could not decide: not connected, past redis_timeout, too many calls waiting, Redis answered an error, or the store was closed. */
export type StoreErrorReason = 'disconnected' | 'timeout' | 'overloaded' | 'error' | 'closed';

export interface BucketStore {
  /**
   * Decides one request against every bucket in `keys` (with the limits at the same
   * index). It passes only when every bucket admits it, and only then does each bucket
   * give a token: a request refused by one scope costs the others nothing.
   * The memory store answers synchronously; the Redis store never rejects.
   */
  take(keys: readonly string[], limits: readonly BucketLimits[]): TakeResult | Promise<TakeResult>;
  /** Releases the store: Redis closes its connection (later calls answer by on_store_error); memory drops its buckets. */
  close(): Promise<void>;
}
