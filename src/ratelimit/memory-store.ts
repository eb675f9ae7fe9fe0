// Buckets in this process: one TAT per key in an LRU bounded by max_clients, so a flood
// of distinct clients evicts the least recently seen instead of growing memory. An
// entry whose TAT has passed is a full bucket, the same as an absent one (takeToken
// reads max(TAT, now)), so it may be reclaimed at any time: purgeStale() does that.
// The LRU grows with the clients seen; it allocates nothing for its bound up front.
import { LruMap } from '../cache/lru-map.ts';
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { decidedResult, takeAll } from './decision.ts';
import type { BucketDecision, BucketLimits } from './gcra.ts';
import type { BucketStore, TakeResult } from './store.ts';

export interface MemoryStoreOptions {
  /** Most buckets kept at once (rate_limit.max_clients). */
  readonly maxEntries: number;
  readonly clock?: Clock;
}

export class MemoryBucketStore implements BucketStore {
  readonly #buckets: LruMap<string, number>;
  readonly #clock: Clock;
  // Scratch reused by every call (take() is synchronous, so nothing overlaps): the
  // memory store is on every request's path and allocates only its answer.
  readonly #decisions: BucketDecision[] = [];

  constructor(options: MemoryStoreOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#buckets = new LruMap(options.maxEntries);
  }

  /** Buckets held, counting full ones not reclaimed yet (reclaiming is lazy: no timer per entry). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Reclaims every full bucket now (O(size)); returns whether any was. For tests or an occasional sweep. */
  purgeStale(): boolean {
    const now = this.#clock();
    return this.#buckets.deleteWhere((tat) => tat <= now);
  }

  take(keys: readonly string[], limits: readonly BucketLimits[]): TakeResult {
    const scope = takeAll(this.#buckets, keys, keys.length, limits, this.#clock(), this.#decisions);
    return decidedResult(scope, this.#decisions[scope]);
  }

  /** Drops every bucket. The store keeps answering (fresh buckets): requests still in flight on a retired runtime must not fail. */
  async close(): Promise<void> {
    this.#buckets.clear();
  }
}
