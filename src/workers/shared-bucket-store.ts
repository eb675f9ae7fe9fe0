// Rate-limit buckets in shared memory, for `server.workers` > 1 with store: memory:
// every worker thread reads and writes the same table, so N workers admit ONE
// configured budget, whichever worker a client's connections land on, and each
// decision is taken locally, in the worker, with no round trip to anyone.
//
// The table is a SharedArrayBuffer of slots [key hash, TAT] (Float64), open addressing
// with a bounded probe. A bucket whose TAT has passed is full, the same as an absent
// one, so such a slot is free for any key. When every slot of a probe window holds a
// live bucket, the one closest to full (smallest TAT) is forgotten: a flood of clients
// can only reset buckets, never grow memory. Its size is fixed when the gateway starts
// (max_clients x 2 slots, rounded up to a power of two), but the pages of a
// SharedArrayBuffer are only made resident when first written: the table costs memory
// as clients show up, not up front.
//
// Keys are stored as a 53-bit hash: two clients whose keys collide would share a bucket.
// With a million live clients the chance that any two collide is n^2 / 2^54, about
// 6 in 100,000.
//
// One lock (an Int32 in its own SharedArrayBuffer) guards a whole decision: all of a
// request's scopes are read, decided and written together, as the memory and Redis
// stores do. The critical section is a few hash probes and the GCRA arithmetic (well
// under a microsecond), so a lock is cheaper than lock-free retries on the global
// bucket every request touches. The lock word holds the owner's thread id: a worker
// that dies holding it is released by the supervisor (releaseLockOf).
import { threadId } from 'node:worker_threads';
import { decidedResult, type TatTable, takeAll } from '../ratelimit/decision.ts';
import type { BucketDecision, BucketLimits } from '../ratelimit/gcra.ts';
import type { BucketStore, TakeResult } from '../ratelimit/store.ts';

/** Slots looked at for one key before the closest-to-full one is reused. */
const PROBE = 16;

export interface SharedBuckets {
  /** [hash, tat] per slot. */
  readonly table: SharedArrayBuffer;
  /** One Int32: 0 when free, else the thread id of the holder. */
  readonly lock: SharedArrayBuffer;
}

/** Allocates the shared table for at most `maxClients` live buckets (zero pages: resident on use). */
export function createSharedBuckets(maxClients: number): SharedBuckets {
  let slots = 1;
  while (slots < 2 * maxClients) slots *= 2;
  return {
    table: new SharedArrayBuffer(slots * 2 * Float64Array.BYTES_PER_ELEMENT),
    lock: new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT),
  };
}

/** Frees the lock if a worker that died was holding it; true when it was. */
export function releaseLockOf(buckets: SharedBuckets, deadThreadId: number): boolean {
  return Atomics.compareExchange(new Int32Array(buckets.lock), 0, deadThreadId, 0) === deadThreadId;
}

/** FNV-1a twice (two offsets), folded into a non-zero 53-bit integer: exact in a double. */
export function keyHash(key: string): number {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  const hash = (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
  return hash === 0 ? 1 : hash;
}

export class SharedBucketStore implements BucketStore {
  readonly #slots: Float64Array;
  readonly #mask: number;
  readonly #lock: Int32Array;
  readonly #owner: number;
  readonly #clock: () => number;
  readonly #decisions: BucketDecision[] = [];
  readonly #hashes: number[] = [];
  // Built once: the lock's critical section reads and writes through it.
  readonly #table: TatTable<number> = {
    get: (hash) => this.#tatOf(hash),
    set: (hash, tat, now) => this.#store(hash, tat, now),
  };

  constructor(buckets: SharedBuckets, clock: () => number = Date.now) {
    this.#slots = new Float64Array(buckets.table);
    this.#mask = this.#slots.length / 2 - 1;
    this.#lock = new Int32Array(buckets.lock);
    // Thread ids start at 1 in workers; the main thread is 0, which would read as "free".
    this.#owner = threadId === 0 ? -1 : threadId;
    this.#clock = clock;
  }

  take(keys: readonly string[], limits: readonly BucketLimits[]): TakeResult {
    const hashes = this.#hashes;
    for (let i = 0; i < keys.length; i++) hashes[i] = keyHash(keys[i]);
    let scope: number;
    this.#acquire();
    try {
      // Each key is placed afresh on commit (#store probes again): an earlier key of
      // this request may have taken the free slot a later one saw.
      scope = takeAll(this.#table, hashes, keys.length, limits, this.#clock(), this.#decisions);
    } finally {
      this.#release();
    }
    return decidedResult(scope, this.#decisions[scope]);
  }

  /** The table is shared: closing one worker's view drops nothing the others use. */
  async close(): Promise<void> {}

  /** The TAT stored for `hash`, or undefined. */
  #tatOf(hash: number): number | undefined {
    const slots = this.#slots;
    let index = hash & this.#mask;
    for (let probe = 0; probe < PROBE; probe++) {
      const key = slots[2 * index];
      if (key === hash) return slots[2 * index + 1];
      if (key === 0) return undefined; // never used: the key cannot be further along
      index = (index + 1) & this.#mask;
    }
    return undefined;
  }

  #store(hash: number, tat: number, now: number): void {
    const slots = this.#slots;
    let index = hash & this.#mask;
    let target = -1;
    let oldest = Number.POSITIVE_INFINITY;
    for (let probe = 0; probe < PROBE; probe++) {
      const key = slots[2 * index];
      if (key === hash || key === 0) {
        target = index;
        break;
      }
      const slotTat = slots[2 * index + 1];
      // A full bucket (TAT passed) is as good as a free slot; otherwise remember the closest to full.
      if (slotTat <= now) {
        target = index;
        oldest = Number.NEGATIVE_INFINITY;
      } else if (slotTat < oldest) {
        target = index;
        oldest = slotTat;
      }
      index = (index + 1) & this.#mask;
    }
    slots[2 * target] = hash;
    slots[2 * target + 1] = tat;
  }

  #acquire(): void {
    const lock = this.#lock;
    for (let spins = 0; Atomics.compareExchange(lock, 0, 0, this.#owner) !== 0; spins++) {
      // Held for well under a microsecond: spin, then yield the core briefly.
      if (spins > 200) Atomics.wait(lock, 0, Atomics.load(lock, 0), 0.05);
    }
  }

  #release(): void {
    Atomics.store(this.#lock, 0, 0);
  }
}
