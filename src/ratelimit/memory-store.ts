// Buckets in this process: one TAT per key in an LRU bounded by max_clients, so a flood
// of distinct clients evicts the least recently seen instead of growing memory. Each
// entry lives only until its bucket would be full again; after that an absent entry
// and a full bucket are the same thing, so idle clients cost nothing.
import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { isTighter } from './decision.ts';
import type { BucketDecision, BucketLimits } from './gcra.ts';
import { takeToken } from './gcra.ts';
import type { BucketStore, TakeResult } from './store.ts';

export interface MemoryStoreOptions {
  /** Most buckets kept at once (rate_limit.max_clients). */
  readonly maxEntries: number;
  readonly clock?: Clock;
}

export class MemoryBucketStore implements BucketStore {
  readonly #cache: LRUCache<string, number>;
  readonly #clock: Clock;
  // Scratch reused by every call (take() is synchronous, so nothing overlaps): the
  // memory store is on every request's path and allocates only its answer.
  readonly #decisions: BucketDecision[] = [];
  // noDeleteOnStaleGet: deleting a cache's last entry makes lru-cache clear() arrays
  // sized max_clients (milliseconds at the default million). A stale entry is simply
  // overwritten by the set that follows.
  readonly #getOptions: LRUCache.GetOptions<string, number, unknown> = { noDeleteOnStaleGet: true };
  readonly #setOptions: LRUCache.SetOptions<string, number, unknown> = { ttl: 1 };
  /** The time of the current call, which lru-cache also reads for expiry. */
  #now = 0;

  constructor(options: MemoryStoreOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#cache = new LRUCache<string, number>({
      max: options.maxEntries,
      // Expiry reads the clock of the current call: the same instant the bucket math
      // uses (an injected clock in tests), read once per call instead of per lookup.
      // ttlResolution 0: lru-cache would otherwise cache "now" for 1 ms of real time.
      perf: { now: () => this.#now },
      ttlResolution: 0,
      ttlAutopurge: false,
    });
  }

  /** Buckets held, counting expired ones not reclaimed yet (expiry is lazy: no timer per entry). */
  get size(): number {
    return this.#cache.size;
  }

  /** Reclaims every expired bucket now (O(size)); returns whether any was. For tests or an occasional sweep. */
  purgeStale(): boolean {
    this.#now = this.#clock();
    return this.#cache.purgeStale();
  }

  take(keys: readonly string[], limits: readonly BucketLimits[]): TakeResult {
    const now = this.#clock();
    this.#now = now;
    const cache = this.#cache;
    const decisions = this.#decisions;
    let allowed = true;
    let scope = 0;
    for (let i = 0; i < keys.length; i++) {
      const decision = takeToken(limits[i], cache.get(keys[i], this.#getOptions), now);
      decisions[i] = decision;
      if (!decision.allowed) allowed = false;
      if (i > 0 && isTighter(decision, decisions[scope])) scope = i;
    }
    // Commit only when every scope admits: a refusal must not drain the other buckets.
    if (allowed) {
      const setOptions = this.#setOptions;
      for (let i = 0; i < keys.length; i++) {
        const decision = decisions[i];
        setOptions.ttl = Math.max(1, Math.ceil(decision.resetMs));
        cache.set(keys[i], decision.tat, setOptions);
      }
    }
    const tightest = decisions[scope];
    return {
      allowed,
      scope,
      remaining: tightest.remaining,
      resetMs: tightest.resetMs,
      retryAfterMs: tightest.retryAfterMs,
      fallback: undefined,
    };
  }

  /** Drops every bucket. The store keeps answering (fresh buckets): requests still in flight on a retired runtime must not fail. */
  async close(): Promise<void> {
    this.#cache.clear();
  }
}
