import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryBucketStore } from '../../src/ratelimit/memory-store.ts';
import { fakeClock } from '../helpers/clock.ts';

const START = 1_780_000_000_000;

const tight = [{ rate: 1, burst: 2 }];

test('one call decides every bucket; the tightest one is reported', () => {
  const { clock } = fakeClock(START);
  const store = new MemoryBucketStore({ maxEntries: 100, clock });
  const limits = [
    { rate: 100, burst: 200 },
    { rate: 10, burst: 3 },
  ];
  const first = store.take(['g', 'c:a'], limits);
  assert.equal(first.allowed, true);
  assert.equal(first.scope, 1);
  assert.equal(first.remaining, 2);
  assert.equal(first.fallback, undefined);
  store.take(['g', 'c:a'], limits);
  store.take(['g', 'c:a'], limits);
  const refused = store.take(['g', 'c:a'], limits);
  assert.equal(refused.allowed, false);
  assert.equal(refused.scope, 1);
  assert.equal(refused.retryAfterMs, 100);
});

test('a request refused by one scope takes nothing from the others', () => {
  const { clock } = fakeClock(START);
  const store = new MemoryBucketStore({ maxEntries: 100, clock });
  const limits = [
    { rate: 1, burst: 5 },
    { rate: 1, burst: 1 },
  ];
  assert.equal(store.take(['shared', 'c:a'], limits).allowed, true);
  for (let i = 0; i < 10; i++) assert.equal(store.take(['shared', 'c:a'], limits).allowed, false);
  // The shared bucket lost one token (the admitted request), not eleven.
  const other = store.take(['shared', 'c:b'], limits);
  assert.equal(other.allowed, true);
  const shared = store.take(['shared'], [limits[0]]);
  assert.equal(shared.remaining, 2);
});

test('an idle bucket disappears once it would be full again', () => {
  const { clock, advance } = fakeClock(START);
  const store = new MemoryBucketStore({ maxEntries: 100, clock });
  store.take(['c:a'], tight);
  store.take(['c:a'], tight);
  assert.equal(store.size, 1);
  assert.equal(store.take(['c:a'], tight).allowed, false);
  advance(2001); // two tokens at 1/s: full again after 2000 ms
  assert.equal(store.take(['c:b'], tight).allowed, true);
  store.purgeStale();
  assert.equal(store.size, 1, 'c:a expired; only c:b remains');
  assert.equal(store.take(['c:a'], tight).remaining, 1, 'a forgotten bucket is a full bucket');
});

test('a million distinct clients keep the store at max_clients, quickly', () => {
  const { clock, advance } = fakeClock(START);
  const store = new MemoryBucketStore({ maxEntries: 10_000, clock });
  const limits = [{ rate: 10, burst: 20 }];
  const started = performance.now();
  for (let i = 0; i < 1_000_000; i++) {
    store.take([`c:ip:10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`], limits);
    if ((i & 1023) === 0) advance(1);
  }
  const elapsed = performance.now() - started;
  assert.equal(store.size, 10_000);
  assert.ok(elapsed < 10_000, `took ${Math.round(elapsed)} ms`);
  // The most recent clients are still limited (the bound evicts the oldest only).
  const key = 'c:ip:10.15.66.63'; // i = 999_999
  const d = store.take([key], limits);
  assert.equal(d.remaining, 18);
});
