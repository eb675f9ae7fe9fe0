import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BucketLimits, gcraInterval, takeToken } from '../../src/ratelimit/gcra.ts';

/** Drives one bucket by hand, keeping the TAT the way a store would. */
function bucket(limits: BucketLimits) {
  let tat: number | undefined;
  return (now: number) => {
    const decision = takeToken(limits, tat, now);
    if (decision.allowed) tat = decision.tat;
    return decision;
  };
}

const T0 = 1_780_000_000_000; // a real-sized epoch timestamp: the float bug only shows there

test('a fresh bucket admits exactly its burst at once, then refuses with the wait for one token', () => {
  const take = bucket({ rate: 10, burst: 5 });
  for (let i = 1; i <= 5; i++) {
    const d = take(T0);
    assert.equal(d.allowed, true);
    assert.equal(d.remaining, 5 - i);
    assert.equal(d.resetMs, i * 100, 'full again after i tokens refill at 100 ms each');
    assert.equal(d.retryAfterMs, 0);
  }
  const refused = take(T0);
  assert.equal(refused.allowed, false);
  assert.equal(refused.remaining, 0);
  assert.equal(refused.retryAfterMs, 100);
  assert.equal(refused.resetMs, 500);
});

test('tokens come back at the rate', () => {
  const take = bucket({ rate: 10, burst: 5 });
  for (let i = 0; i < 5; i++) take(T0);
  assert.equal(take(T0 + 99).allowed, false);
  const d = take(T0 + 100);
  assert.equal(d.allowed, true);
  assert.equal(d.remaining, 0);
  assert.equal(take(T0 + 100).allowed, false);
  // After a long idle time the bucket is full again, never fuller.
  const later = take(T0 + 60_000);
  assert.equal(later.allowed, true);
  assert.equal(later.remaining, 4);
  assert.equal(later.resetMs, 100);
});

test('a refusal does not move the TAT', () => {
  const limits = { rate: 1, burst: 1 };
  const first = takeToken(limits, undefined, T0);
  const refused = takeToken(limits, first.tat, T0 + 10);
  assert.equal(refused.allowed, false);
  assert.equal(refused.tat, first.tat);
  assert.equal(refused.retryAfterMs, 990);
});

test('regression: at epoch timestamps every burst is admitted whole and remaining is never negative', () => {
  // Before the 1/1024 ms grid, float drift made ~1 in 5 (rate, burst) pairs admit
  // burst - 1 and report remaining = -1 (e.g. rate 7, burst 5 or burst 1).
  for (const rate of [0.3, 1, 3, 7, 9, 11, 13, 33, 100, 333, 1000, 7777, 99_999]) {
    for (const burst of [1, 2, 3, 5, 7, 20, 200]) {
      for (const offset of [0, 7919, 123_457.37]) {
        const take = bucket({ rate, burst });
        let admitted = 0;
        for (let i = 0; i < burst + 2; i++) {
          const d = take(T0 + offset);
          if (d.allowed) {
            admitted++;
            assert.equal(d.remaining, burst - admitted, `rate ${rate} burst ${burst}`);
          }
        }
        assert.equal(admitted, burst, `rate ${rate} burst ${burst} at +${offset}`);
      }
    }
  }
});

test('a client sending exactly at the rate is always admitted', () => {
  const limits = { rate: 7, burst: 3 };
  const take = bucket(limits);
  for (let i = 0; i < 3; i++) take(T0);
  let now = T0;
  for (let i = 0; i < 1000; i++) {
    const refused = take(now);
    assert.equal(refused.allowed, false);
    now += refused.retryAfterMs;
    assert.equal(take(now).allowed, true, `step ${i}`);
  }
});

test('the interval is rounded to the 1/1024 ms grid, never below one step', () => {
  assert.equal(gcraInterval(1000), 1);
  assert.equal(gcraInterval(7), Math.round(1024_000 / 7) / 1024);
  assert.ok(Math.abs(gcraInterval(7) - 1000 / 7) <= 1 / 2048);
  assert.equal(gcraInterval(1e9), 1 / 1024);
});
