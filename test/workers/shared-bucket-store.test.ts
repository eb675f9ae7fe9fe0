import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createSharedBuckets,
  keyHash,
  releaseLockOf,
  SharedBucketStore,
} from '../../src/workers/shared-bucket-store.ts';

const limits = [{ rate: 1, burst: 5 }];

test('two stores on one shared table spend one budget', () => {
  let now = 1_780_000_000_000;
  const buckets = createSharedBuckets(100);
  const a = new SharedBucketStore(buckets, () => now);
  const b = new SharedBucketStore(buckets, () => now);
  const admitted = [a, b, a, b, a, b, a, b].filter((store) => store.take(['c:x'], limits).allowed).length;
  assert.equal(admitted, 5);
  const refused = b.take(['c:x'], limits);
  assert.equal(refused.allowed, false);
  assert.equal(refused.retryAfterMs, 1000);
  now += 1000;
  assert.equal(a.take(['c:x'], limits).allowed, true, 'one token back after a second, for both');
  assert.equal(b.take(['c:x'], limits).allowed, false);
});

test('decides like the memory store: all scopes or none, tightest reported', () => {
  const now = 1_780_000_000_000;
  const store = new SharedBucketStore(createSharedBuckets(100), () => now);
  const two = [
    { rate: 1, burst: 5 },
    { rate: 1, burst: 1 },
  ];
  assert.equal(store.take(['shared', 'c:a'], two).allowed, true);
  const refused = store.take(['shared', 'c:a'], two);
  assert.equal(refused.allowed, false);
  assert.equal(refused.scope, 1);
  // The refused request took nothing from the shared bucket.
  assert.equal(store.take(['shared'], [two[0]]).remaining, 3);
});

test('a flood of clients reuses slots: the table never grows, the newest are still limited', () => {
  let now = 1_780_000_000_000;
  const store = new SharedBucketStore(createSharedBuckets(1000), () => now);
  for (let i = 0; i < 50_000; i++) {
    store.take([`c:ip:10.0.${i >> 8}.${i & 255}`], limits);
    if (i % 100 === 0) now += 1;
  }
  const latest = 'c:ip:10.0.195.79'; // i = 49_999
  assert.equal(store.take([latest], limits).remaining, 3);
});

test('keys hash to non-zero 53-bit integers; a dead holder of the lock is released', () => {
  for (const key of ['', 'g', 'c:ip:127.0.0.1', 'r:/api:u:alice']) {
    const hash = keyHash(key);
    assert.ok(Number.isSafeInteger(hash) && hash > 0);
  }
  assert.notEqual(keyHash('c:ip:10.0.0.1'), keyHash('c:ip:10.0.0.2'));
  const buckets = createSharedBuckets(10);
  const lock = new Int32Array(buckets.lock);
  Atomics.store(lock, 0, 42);
  assert.equal(releaseLockOf(buckets, 7), false, 'another thread holds it');
  assert.equal(releaseLockOf(buckets, 42), true);
  assert.equal(Atomics.load(lock, 0), 0);
});
