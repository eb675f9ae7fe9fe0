// The Redis store against a real redis-server: same decisions as the memory store,
// one budget shared by every gateway, script cache loss recovered.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { TAKE_SCRIPT } from '../../src/ratelimit/redis-script.ts';
import { RedisBucketStore, type RedisStoreOptions } from '../../src/ratelimit/redis-store.ts';
import type { TakeResult } from '../../src/ratelimit/store.ts';
import { delay, type RedisServer, requireRedis, startRedis } from '../helpers/redis.ts';

let server: Promise<RedisServer> | undefined;
/** One server for this file, started by the first test that runs. */
function sharedRedis(): Promise<RedisServer> {
  server ??= startRedis();
  return server;
}
after(async () => {
  if (server) await (await server).stop();
});

const stores: RedisBucketStore[] = [];
after(() => Promise.all(stores.map((s) => s.close())));

let prefixes = 0;
async function connectedStore(
  url: string,
  options: Partial<RedisStoreOptions> = {},
): Promise<RedisBucketStore> {
  const store = new RedisBucketStore({
    url,
    keyPrefix: `test${++prefixes}:`,
    timeoutMs: 500,
    fallback: 'deny',
    ...options,
  });
  stores.push(store);
  const deadline = Date.now() + 5000;
  while (!store.ready) {
    if (Date.now() > deadline) throw new Error('store never connected');
    await delay(5);
  }
  return store;
}

test('decides like takeToken: burst, refusal, tightest scope, keys with prefix and expiry', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await sharedRedis();
  const store = await connectedStore(redis.url, { keyPrefix: 'gatehouse:rl:' });
  // Slow refills (a token per 10 s, per 100 s) so that no token comes back and no key
  // expires between the takes and the checks, however slowly a loaded machine runs them.
  const limits = [
    { rate: 0.1, burst: 200 },
    { rate: 0.01, burst: 3 },
  ];
  const results: TakeResult[] = [];
  for (let i = 0; i < 4; i++) results.push(await store.take(['g', 'c:ip:1.2.3.4'], limits));
  assert.deepEqual(
    results.map((r) => [r.allowed, r.scope, r.remaining, r.fallback]),
    [
      [true, 1, 2, undefined],
      [true, 1, 1, undefined],
      [true, 1, 0, undefined],
      [false, 1, 0, undefined],
    ],
  );
  const refused = results[3];
  assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 100_000, `retry ${refused.retryAfterMs}`);
  assert.ok(refused.resetMs > 200_000 && refused.resetMs <= 300_000, `reset ${refused.resetMs}`);

  const raw = new Redis(redis.url);
  try {
    assert.deepEqual((await raw.keys('gatehouse:rl:*')).sort(), [
      'gatehouse:rl:c:ip:1.2.3.4',
      'gatehouse:rl:g',
    ]);
    const ttl = await raw.pttl('gatehouse:rl:c:ip:1.2.3.4');
    assert.ok(ttl > 200_000 && ttl <= 300_000, `client bucket expires when full again (pttl ${ttl})`);
    const globalTtl = await raw.pttl('gatehouse:rl:g');
    assert.ok(globalTtl > 20_000 && globalTtl <= 30_000, `pttl ${globalTtl}`);
  } finally {
    raw.disconnect();
  }
  // Tokens come back with time (Redis's clock): empty a fast bucket, wait the
  // Retry-After it reports, and the next take is admitted.
  const fast = [{ rate: 10, burst: 1 }];
  let empty: TakeResult | undefined;
  for (let i = 0; i < 50 && !empty; i++) {
    const taken = await store.take(['c:refill'], fast);
    if (!taken.allowed) empty = taken;
  }
  assert.ok(empty, 'the fast bucket refuses once emptied');
  assert.ok(empty.retryAfterMs > 0 && empty.retryAfterMs <= 100, `retry ${empty.retryAfterMs}`);
  await delay(empty.retryAfterMs + 20);
  assert.equal((await store.take(['c:refill'], fast)).allowed, true);
});

test('a refused request takes nothing from the other buckets', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await sharedRedis();
  const store = await connectedStore(redis.url);
  const limits = [
    { rate: 0.001, burst: 5 },
    { rate: 0.001, burst: 1 },
  ];
  assert.equal((await store.take(['g', 'c:a'], limits)).allowed, true);
  for (let i = 0; i < 10; i++) assert.equal((await store.take(['g', 'c:a'], limits)).allowed, false);
  const shared = await store.take(['g'], [limits[0]]);
  assert.equal(shared.remaining, 3, 'only the admitted request and this one were charged');
});

test('three gateways (separate connections) share one budget, not three', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await sharedRedis();
  const a = await connectedStore(redis.url, { keyPrefix: 'shared3:' });
  const b = await connectedStore(redis.url, { keyPrefix: 'shared3:' });
  const c = await connectedStore(redis.url, { keyPrefix: 'shared3:' });
  const limits = [
    { rate: 0.001, burst: 50 },
    { rate: 0.001, burst: 20 },
  ];
  const calls: Promise<TakeResult>[] = [];
  for (let i = 0; i < 40; i++) {
    for (const store of [a, b, c])
      calls.push(Promise.resolve(store.take(['g', `c:ip:9.9.9.${i % 2}`], limits)));
  }
  const results = await Promise.all(calls);
  assert.equal(results.filter((r) => r.fallback !== undefined).length, 0);
  assert.equal(
    results.filter((r) => r.allowed).length,
    40,
    'two clients x burst 20, across all three gateways',
  );
  // The global bucket (burst 50) saw exactly the 40 admitted requests.
  assert.equal((await a.take(['g'], [limits[0]])).remaining, 9);
});

test('three gateway processes share one budget', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await sharedRedis();
  const worker = fileURLToPath(new URL('./fixtures/redis-worker.ts', import.meta.url));
  const startAt = Date.now() + 1500;
  const run = promisify(execFile);
  const outputs = await Promise.all(
    [1, 2, 3].map(() =>
      run(process.execPath, [worker, redis.url, 'procs:', '30', String(startAt)], { timeout: 20_000 }),
    ),
  );
  const reports = outputs.map((o) => JSON.parse(o.stdout) as { admitted: number; fallbacks: number });
  assert.deepEqual(
    reports.map((r) => r.fallbacks),
    [0, 0, 0],
  );
  assert.equal(
    reports.reduce((sum, r) => sum + r.admitted, 0),
    25,
    `burst 25 in total across 90 requests: ${JSON.stringify(reports)}`,
  );
});

test('the script survives SCRIPT FLUSH (NOSCRIPT is recovered within the same call)', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await sharedRedis();
  const store = await connectedStore(redis.url);
  const limits = [{ rate: 0.001, burst: 3 }];
  assert.equal((await store.take(['c:x'], limits)).remaining, 2);
  const raw = new Redis(redis.url);
  const sha = createHash('sha1').update(TAKE_SCRIPT).digest('hex');
  const noscriptErrors = async () =>
    Number(/errorstat_NOSCRIPT:count=(\d+)/.exec(await raw.info('errorstats'))?.[1] ?? 0);
  try {
    assert.deepEqual(await raw.script('EXISTS', sha), [1]);
    const before = await noscriptErrors();
    await raw.script('FLUSH');
    assert.deepEqual(await raw.script('EXISTS', sha), [0]);
    const afterFlush = await store.take(['c:x'], limits);
    assert.equal(afterFlush.fallback, undefined);
    assert.equal(afterFlush.remaining, 1);
    assert.equal(await noscriptErrors(), before + 1, 'EVALSHA met NOSCRIPT once');
    assert.deepEqual(await raw.script('EXISTS', sha), [1], 'and the script was loaded again');
  } finally {
    raw.disconnect();
  }
  assert.equal((await store.take(['c:x'], limits)).remaining, 0);
  assert.equal(store.fallbackCount, 0);
});
