import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AUTH_RETRY_BACKOFF, verificationBudgetMs } from '../../src/auth/retry-budget.ts';
import { backoffDelay, nominalDelay } from '../../src/backoff.ts';

const maxBackoffMs = (retry: number) => nominalDelay(retry, AUTH_RETRY_BACKOFF);

test('auth retry backoff doubles from 50 ms up to its cap, with equal jitter', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(maxBackoffMs), [50, 100, 200, 400, 800, AUTH_RETRY_BACKOFF.maxMs]);
  assert.equal(maxBackoffMs(30), AUTH_RETRY_BACKOFF.maxMs);
  // Equal jitter: never sooner than half the nominal delay, never later than all of it.
  assert.equal(
    backoffDelay(3, AUTH_RETRY_BACKOFF, () => 0),
    100,
  );
  assert.equal(
    backoffDelay(3, AUTH_RETRY_BACKOFF, () => 0.5),
    150,
  );
  assert.ok(backoffDelay(3, AUTH_RETRY_BACKOFF, () => 0.999999) < 200);
});

test('a verification is bounded by every attempt at its timeout plus every backoff at its largest', () => {
  assert.equal(verificationBudgetMs(2000, 3), 4 * 2000 + 50 + 100 + 200);
  assert.equal(verificationBudgetMs(500, 0), 500);
});
