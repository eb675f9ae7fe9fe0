// How the stores summarise one request's buckets, shared by the memory store and
// mirrored by the Lua script (redis-script.ts).
import type { BucketDecision } from './gcra.ts';
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
