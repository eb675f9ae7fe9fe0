// How the stores decide and summarise one request's buckets: shared by the memory
// store and the workers' shared-memory store, mirrored by the Lua script (redis-script.ts).
import { type BucketDecision, type BucketLimits, takeToken } from './gcra.ts';
import type { StoreErrorReason, TakeResult } from './store.ts';

/**
 * True when decision `a` should be shown instead of `b`: a refusal beats an admission,
 * then the longer wait (refused) or fewer tokens left (admitted), then the later reset.
 * The Lua script (redis-script.ts) applies the same rule.
 */
export function isTighter(a: BucketDecision, b: BucketDecision): boolean {
  if (a.allowed !== b.allowed) return !a.allowed;
  if (!a.allowed && a.retryAfterMs !== b.retryAfterMs) return a.retryAfterMs > b.retryAfterMs;
  if (a.remaining !== b.remaining) return a.remaining < b.remaining;
  return a.resetMs > b.resetMs;
}

/** Where a store keeps each bucket's TAT, by key (the key itself, or a hash of it). */
export interface TatTable<K> {
  /** The bucket's TAT; undefined for a bucket not held (a full one). */
  get(key: K): number | undefined;
  /** `now` lets a bounded table reuse the place of a bucket that is full by then. */
  set(key: K, tat: number, now: number): void;
}

/**
 * Decides one request against the buckets of its `count` keys (with the limits at the
 * same index; `keys` may be a longer scratch array reused across calls) and, only when
 * each admits it, writes every new TAT: a refusal must not drain the other buckets.
 * Fills the caller's `decisions` (scratch reused across calls, so the request path
 * allocates nothing more) and returns the scope to show; the request is admitted
 * exactly when that scope's decision is (isTighter puts refusals first).
 */
export function takeAll<K>(
  table: TatTable<K>,
  keys: readonly K[],
  count: number,
  limits: readonly BucketLimits[],
  now: number,
  decisions: BucketDecision[],
): number {
  let allowed = true;
  let scope = 0;
  for (let i = 0; i < count; i++) {
    const decision = takeToken(limits[i], table.get(keys[i]), now);
    decisions[i] = decision;
    if (!decision.allowed) allowed = false;
    if (i > 0 && isTighter(decision, decisions[scope])) scope = i;
  }
  if (allowed) {
    for (let i = 0; i < count; i++) table.set(keys[i], decisions[i].tat, now);
  }
  return scope;
}

/** The answer for a request decided by takeAll, described by its scope's decision. */
export function decidedResult(scope: number, tightest: BucketDecision): TakeResult {
  return {
    allowed: tightest.allowed,
    scope,
    remaining: tightest.remaining,
    resetMs: tightest.resetMs,
    retryAfterMs: tightest.retryAfterMs,
    fallback: undefined,
  };
}

/** The answers given when the store cannot decide, one pair per reason (no allocation on the error path). */
export function fallbackResult(allow: boolean, reason: StoreErrorReason): TakeResult {
  return (allow ? FALLBACK_ALLOW : FALLBACK_DENY)[reason];
}

function fallbacks(allowed: boolean): Readonly<Record<StoreErrorReason, TakeResult>> {
  const reasons: StoreErrorReason[] = ['disconnected', 'timeout', 'overloaded', 'error', 'closed'];
  const table = {} as Record<StoreErrorReason, TakeResult>;
  for (const reason of reasons) {
    // A denial without numbers still needs a Retry-After: one second, the smallest legal value.
    table[reason] = Object.freeze({
      allowed,
      scope: -1,
      remaining: 0,
      resetMs: 0,
      retryAfterMs: allowed ? 0 : 1000,
      fallback: reason,
    });
  }
  return Object.freeze(table);
}

const FALLBACK_ALLOW = fallbacks(true);
const FALLBACK_DENY = fallbacks(false);
