import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addCounts, RouteWindow, summarize } from '../../src/observability/route-window.ts';

test('a route window sums the last minute: rate, error ratio, p50 and p99', () => {
  let now = 1_000_000;
  const window = new RouteWindow(() => now);
  for (let i = 0; i < 98; i++) window.record(200, 10);
  window.record(503, 400);
  window.record(502, 400);
  now += 30_000;
  const summary = window.summary();
  assert.equal(summary.requests, 100);
  assert.equal(summary.rate, 100 / 60);
  assert.equal(summary.errorRatio, 0.02);
  // Buckets are √2 apart: the reported bound is at most √2 above the true value.
  assert.ok(summary.p50Ms! >= 10 && summary.p50Ms! < 10 * Math.SQRT2, String(summary.p50Ms));
  assert.ok(summary.p99Ms! >= 400 && summary.p99Ms! < 400 * Math.SQRT2, String(summary.p99Ms));
});

test('seconds older than a minute fall out, and a reused slot starts empty', () => {
  let now = 5_000_000;
  const window = new RouteWindow(() => now);
  window.record(500, 1);
  now += 60_000;
  assert.equal(window.summary().requests, 0);
  window.record(200, 1);
  assert.deepEqual(
    { requests: window.summary().requests, errors: window.summary().errorRatio },
    { requests: 1, errors: 0 },
  );
  assert.equal(new RouteWindow(() => now).summary().p50Ms, undefined);
});

test('counts are sums that add up across windows; the figures are computed from them', () => {
  const now = 2_000_000;
  const a = new RouteWindow(() => now);
  const b = new RouteWindow(() => now);
  a.record(200, 0.1); // bucket 0
  a.record(500, 1); // bucket 4: 0.25 · √2^4 = 1 ms
  b.record(200, 1);
  assert.deepEqual(a.counts(), { requests: 2, errors: 1, latency: [1, 0, 0, 0, 1] }, 'no empty tail');
  const sum = addCounts([a.counts(), b.counts(), new RouteWindow(() => now).counts()]);
  assert.deepEqual(sum, { requests: 3, errors: 1, latency: [1, 0, 0, 0, 2] });
  assert.deepEqual(summarize(sum), { ...sum, rate: 3 / 60, errorRatio: 1 / 3, p50Ms: 1, p99Ms: 1 });
});
