import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextProbeDelay } from '../../src/upstream/probe-schedule.ts';

const low = () => 0;
const high = () => 0.999999;

describe('nextProbeDelay', () => {
  const schedule = { intervalMs: 30_000, maxBackoffMs: 300_000 };

  it('probes a passing instance every interval, without jitter', () => {
    assert.equal(nextProbeDelay(0, schedule, high), 30_000);
  });

  it('backs off a failing instance from min(interval, 1s) up to max_backoff', () => {
    const delays = [1, 2, 3, 9, 10, 20].map((failures) =>
      Math.round(nextProbeDelay(failures, schedule, high)),
    );
    assert.deepEqual(delays, [1_000, 2_000, 4_000, 256_000, 300_000, 300_000]);
  });

  it('uses the interval as base when it is shorter than 1s', () => {
    const fast = { intervalMs: 50, maxBackoffMs: 400 };
    const delays = [1, 2, 3, 4, 5].map((failures) => Math.round(nextProbeDelay(failures, fast, high)));
    assert.deepEqual(delays, [50, 100, 200, 400, 400]);
    assert.equal(nextProbeDelay(1, fast, low), 25);
  });
});
