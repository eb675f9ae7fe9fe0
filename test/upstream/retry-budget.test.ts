import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetryBudget } from '../../src/upstream/retry-budget.ts';

function budget(ratio: number, minRetries: number) {
  let now = 1_000_000;
  const b = new RetryBudget({ ratio, minRetries, windowMs: 10_000 }, () => now);
  return { b, advance: (ms: number) => (now += ms) };
}

test('retries are allowed up to ratio x requests over the window, with a floor', () => {
  const { b } = budget(0.2, 2);
  assert.equal(b.tryRetry(), true, 'the floor allows retries before any request');
  assert.equal(b.tryRetry(), true);
  assert.equal(b.tryRetry(), false);
  for (let i = 0; i < 20; i++) b.request();
  // 20 requests x 0.2 = 4 retries in the window; 2 are spent.
  assert.equal(b.tryRetry(), true);
  assert.equal(b.tryRetry(), true);
  assert.equal(b.tryRetry(), false);
});

test('the window slides: old requests and retries leave it', () => {
  const { b, advance } = budget(0.5, 0);
  for (let i = 0; i < 10; i++) b.request();
  for (let i = 0; i < 5; i++) assert.equal(b.tryRetry(), true);
  assert.equal(b.tryRetry(), false);
  advance(5_000);
  assert.equal(b.tryRetry(), false, 'half a window later everything is still counted');
  advance(5_500);
  assert.equal(b.tryRetry(), false, 'the old requests left with the old retries: nothing to retry against');
  for (let i = 0; i < 4; i++) b.request();
  assert.equal(b.tryRetry(), true);
  assert.equal(b.tryRetry(), true);
  assert.equal(b.tryRetry(), false);
  advance(60_000);
  assert.equal(b.tryRetry(), false, 'a long pause clears every slot');
});
