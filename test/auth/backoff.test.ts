import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BACKOFF_CAP_MS,
  backoffDelayMs,
  maxBackoffMs,
  verificationBudgetMs,
} from '../../src/auth/backoff.ts';

test('backoff doubles from 50 ms up to its cap, with full jitter', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(maxBackoffMs), [50, 100, 200, 400, 800, BACKOFF_CAP_MS]);
  assert.equal(maxBackoffMs(30), BACKOFF_CAP_MS);
  assert.equal(
    backoffDelayMs(3, () => 0),
    0,
  );
  assert.equal(
    backoffDelayMs(3, () => 0.5),
    100,
  );
  assert.ok(backoffDelayMs(3, () => 0.999999) < 200);
});

test('a verification is bounded by every attempt at its timeout plus every backoff at its largest', () => {
  assert.equal(verificationBudgetMs(2000, 3), 4 * 2000 + 50 + 100 + 200);
  assert.equal(verificationBudgetMs(500, 0), 500);
});
