// Redis killed, frozen, restarted or never there: the limiter decides within
// redis_timeout by on_store_error, counts and logs it (throttled), never crashes, and
// applies limits again once Redis is back.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ThrottledLog } from '../../src/observability/throttled-log.ts';
import { RedisBucketStore, type RedisStoreOptions } from '../../src/ratelimit/redis-store.ts';
import type { TakeResult } from '../../src/ratelimit/store.ts';
import { fakeClock } from '../helpers/clock.ts';
import { delay, requireRedis, startRedis } from '../helpers/redis.ts';
import { until } from '../helpers/until.ts';

const TIMEOUT = 100;
/** A decision may take redis_timeout plus this much scheduling noise, never more. */
const SLACK = 150;

const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));
after(() => assert.deepEqual(unhandled, [], 'no unhandled rejection'));

const stores: RedisBucketStore[] = [];
after(() => Promise.all(stores.map((s) => s.close())));

interface Captured {
  warns: { fields: Record<string, unknown>; message: string }[];
  infos: string[];
}

function newStore(url: string, options: Partial<RedisStoreOptions> = {}) {
  const captured: Captured = { warns: [], infos: [] };
  const reasons: string[] = [];
  const store = new RedisBucketStore({
    url,
    keyPrefix: 'faults:',
    timeoutMs: TIMEOUT,
    fallback: 'allow',
    maxReconnectDelayMs: 200,
    logger: {
      warn: (fields, message) => captured.warns.push({ fields: fields as Record<string, unknown>, message }),
      info: (_fields, message) => captured.infos.push(message),
    },
    onStoreError: (_decision, reason) => reasons.push(reason),
    ...options,
  });
  stores.push(store);
  return { store, captured, reasons };
}

/** One decision and how long it took. */
async function timedTake(
  store: RedisBucketStore,
  key: string,
  burst = 3,
): Promise<{ result: TakeResult; ms: number }> {
  const started = performance.now();
  const result = await store.take([key], [{ rate: 0.001, burst }]);
  return { result, ms: performance.now() - started };
}

test('killed under traffic with allow: requests pass within the deadline, are counted, limits return after restart', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis();
  t.after(() => redis.stop());
  const { store, captured, reasons } = newStore(redis.url);
  await until(() => store.ready, 'connection', 5000);

  // Traffic: a steady stream of decisions for fresh clients while Redis dies.
  let stop = false;
  const timings: number[] = [];
  const outcomes: TakeResult[] = [];
  const traffic = (async () => {
    for (let i = 0; !stop; i++) {
      const { result, ms } = await timedTake(store, `c:load${i}`);
      timings.push(ms);
      outcomes.push(result);
      await delay(2);
    }
  })();
  await delay(100);
  await redis.kill('SIGKILL');
  await delay(500);
  stop = true;
  await traffic;

  const fallbacks = outcomes.filter((r) => r.fallback !== undefined);
  assert.ok(fallbacks.length > 10, `fallbacks: ${fallbacks.length}`);
  assert.ok(
    fallbacks.every((r) => r.allowed && r.scope === -1),
    'allow lets them through, with no numbers',
  );
  assert.equal(store.fallbackCount, fallbacks.length);
  assert.equal(reasons.length, fallbacks.length, 'every fallback reported for metrics');
  assert.ok(
    Math.max(...timings) < TIMEOUT + SLACK,
    `slowest decision ${Math.round(Math.max(...timings))} ms`,
  );
  // Logged, but throttled: one line for the burst of fallbacks (+1 for the connection error).
  const fallbackLines = captured.warns.filter((w) => w.fields.reason !== undefined);
  assert.ok(
    fallbackLines.length >= 1 && fallbackLines.length <= 2,
    `fallback log lines: ${fallbackLines.length}`,
  );

  // While down, a decision is immediate: no timer, no promise.
  const down = store.take(['c:x'], [{ rate: 1, burst: 1 }]);
  assert.ok(!(down instanceof Promise));
  assert.equal(down.fallback, 'disconnected');

  // Back on the same port (empty): limits apply again, with no restart of the gateway.
  await redis.restart();
  await until(() => store.ready, 'reconnection');
  const results: TakeResult[] = [];
  for (let i = 0; i < 4; i++) results.push((await timedTake(store, 'c:after-restart')).result);
  assert.deepEqual(
    results.map((r) => [r.allowed, r.fallback]),
    [
      [true, undefined],
      [true, undefined],
      [true, undefined],
      [false, undefined],
    ],
  );
  assert.ok(
    captured.infos.some((m) => m.includes('back')),
    'recovery is logged',
  );
});

test('killed with deny: refused within the deadline, counted, no crash', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis();
  t.after(() => redis.stop());
  const { store } = newStore(redis.url, { fallback: 'deny' });
  await until(() => store.ready, 'connection', 5000);
  assert.equal((await timedTake(store, 'c:d')).result.allowed, true);
  await redis.kill('SIGKILL');
  for (let i = 0; i < 20; i++) {
    const { result, ms } = await timedTake(store, `c:d${i}`);
    assert.equal(result.allowed, false);
    assert.notEqual(result.fallback, undefined);
    assert.equal(result.retryAfterMs, 1000);
    assert.ok(ms < TIMEOUT + SLACK, `${Math.round(ms)} ms`);
  }
  assert.ok(store.fallbackCount >= 20);
});

test('frozen Redis (SIGSTOP): decisions end at the deadline, the backlog is capped, thawing recovers', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis();
  t.after(() => redis.stop());
  const { store, reasons } = newStore(redis.url, { maxPending: 8 });
  await until(() => store.ready, 'connection', 5000);
  redis.pause();

  const started = performance.now();
  const frozen = await Promise.all(Array.from({ length: 20 }, (_, i) => timedTake(store, `c:f${i}`)));
  const elapsed = performance.now() - started;
  assert.ok(elapsed < TIMEOUT + SLACK, `all 20 decided in ${Math.round(elapsed)} ms`);
  assert.ok(frozen.every((f) => f.result.allowed && f.result.fallback !== undefined));
  assert.equal(reasons.filter((r) => r === 'timeout').length, 8, 'the first 8 waited for the deadline');
  assert.equal(reasons.filter((r) => r === 'overloaded').length, 12, 'the rest were not even sent');

  redis.resume();
  await until(
    () => store.take(['c:probe'], [{ rate: 1, burst: 1000 }]) instanceof Promise,
    'connection kept',
    1000,
  );
  let real: TakeResult | undefined;
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    real = (await timedTake(store, 'c:thawed')).result;
    if (real.fallback === undefined) break;
    await delay(20);
  }
  assert.equal(real?.fallback, undefined, 'real decisions again after SIGCONT');
  assert.equal(real?.allowed, true);
});

test('a connection silent past stallTimeoutMs is remade, and recovers after the freeze', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis();
  t.after(() => redis.stop());
  const { store, captured } = newStore(redis.url, { stallTimeoutMs: 300 });
  await until(() => store.ready, 'connection', 5000);
  redis.pause();
  // Keep traffic flowing: the watchdog runs on fallbacks.
  const deadline = Date.now() + 3000;
  while (store.ready && Date.now() < deadline) {
    await timedTake(store, 'c:stall');
    await delay(20);
  }
  assert.equal(store.ready, false, 'the silent connection was dropped');
  assert.ok(captured.warns.some((w) => w.message.includes('silent')));
  const meanwhile = store.take(['c:stall'], [{ rate: 1, burst: 1 }]);
  assert.ok(!(meanwhile instanceof Promise), 'no waiting on a connection that is not ready');
  redis.resume();
  await until(() => store.ready, 'reconnection after SIGCONT');
  assert.equal((await timedTake(store, 'c:after-stall')).result.fallback, undefined);
});

test('Redis absent from the start: immediate fallback, then limits once it appears', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis();
  t.after(() => redis.stop());
  await redis.kill('SIGKILL');
  const { store, captured } = newStore(redis.url, { fallback: 'deny' });
  const started = performance.now();
  const first = store.take(['c:a'], [{ rate: 1, burst: 1 }]);
  assert.ok(!(first instanceof Promise));
  assert.equal(first.allowed, false);
  assert.ok(performance.now() - started < 20);
  await delay(300);
  assert.ok(
    captured.warns.some((w) => w.message.includes('connection error')),
    'the connection error is logged, not thrown',
  );
  await redis.restart();
  await until(() => store.ready, 'first connection');
  assert.equal((await store.take(['c:a'], [{ rate: 1, burst: 1 }])).fallback, undefined);
});

test('close() resolves with Redis frozen, and later calls answer by fallback', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis();
  t.after(() => redis.stop());
  const { store } = newStore(redis.url);
  await until(() => store.ready, 'connection', 5000);
  redis.pause();
  const started = performance.now();
  await store.close();
  assert.ok(performance.now() - started < 1500);
  const later = store.take(['c:a'], [{ rate: 1, burst: 1 }]);
  assert.ok(!(later instanceof Promise));
  assert.equal(later.fallback, 'closed');
});

test('throttled warnings: one line per interval, with the count held back', () => {
  const time = fakeClock(0);
  const lines: { fields: object; message: string }[] = [];
  const warnings = new ThrottledLog((fields, message) => lines.push({ fields, message }), {
    intervalMs: 5000,
    schedule: time.schedule,
  });
  for (let i = 0; i < 100; i++) {
    warnings.log('timeout', { reason: 'timeout' }, 'x');
    time.advance(100);
  }
  // t = 0, then at 5000 the 49 held back (reported by the interval's own timer), and at
  // 10000 the 50 held back since.
  assert.deepEqual(
    lines.map((l) => l.fields),
    [
      { reason: 'timeout' },
      { reason: 'timeout', suppressed: 49, interval_ms: 5000 },
      { reason: 'timeout', suppressed: 50, interval_ms: 5000 },
    ],
  );
});
