import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay } from '../src/backoff.ts';
import { UNREACHABLE_BACKOFF } from '../src/upstream/passive-backoff.ts';

const low = () => 0;
const high = () => 0.999999;

describe('backoffDelay', () => {
  it('doubles from the base with every failure, up to the cap', () => {
    const nominal = [1, 2, 3, 4, 5, 6, 7, 30].map((failures) =>
      Math.round(backoffDelay(failures, UNREACHABLE_BACKOFF, high)),
    );
    assert.deepEqual(nominal, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('jitters within [nominal/2, nominal]', () => {
    for (const failures of [1, 3, 8]) {
      const nominal = Math.min(30_000, 1_000 * 2 ** (failures - 1));
      assert.equal(backoffDelay(failures, UNREACHABLE_BACKOFF, low), nominal / 2);
      assert.ok(backoffDelay(failures, UNREACHABLE_BACKOFF, high) <= nominal);
      for (let i = 0; i < 200; i++) {
        const delay = backoffDelay(failures, UNREACHABLE_BACKOFF, Math.random);
        assert.ok(delay >= nominal / 2 && delay <= nominal, `${delay} outside [${nominal / 2}, ${nominal}]`);
      }
    }
  });

  it('never exceeds the cap, even after very many failures', () => {
    assert.ok(backoffDelay(5_000, { baseMs: 1_000, maxMs: 30_000 }, high) <= 30_000);
  });
});
