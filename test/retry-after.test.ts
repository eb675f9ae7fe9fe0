import assert from 'node:assert/strict';
import { test } from 'node:test';
import { retryAfterHeader } from '../src/retry-after.ts';

test('Retry-After is whole seconds, rounded up, never below 1', () => {
  assert.deepEqual(retryAfterHeader(0), { 'retry-after': '1' });
  assert.deepEqual(retryAfterHeader(1), { 'retry-after': '1' });
  assert.deepEqual(retryAfterHeader(1000), { 'retry-after': '1' });
  assert.deepEqual(retryAfterHeader(1001), { 'retry-after': '2' });
  assert.deepEqual(retryAfterHeader(99_999.5), { 'retry-after': '100' });
});
