import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type RateLimitConfig,
  type RouteConfig,
  rateLimitSchema,
  routeSchema,
} from '../../src/config/schema.ts';
import { GatewayError } from '../../src/errors.ts';
import type { Policy } from '../../src/policies/policy.ts';
import { createRateLimitPolicy } from '../../src/policies/rate-limit.ts';
import { fallbackResult } from '../../src/ratelimit/decision.ts';
import type { BucketLimits } from '../../src/ratelimit/gcra.ts';
import { MemoryBucketStore } from '../../src/ratelimit/memory-store.ts';
import type { BucketStore, TakeResult } from '../../src/ratelimit/store.ts';
import { fakeClock } from '../helpers/clock.ts';
import { type TestRequest, testRequest } from '../helpers/policy-request.ts';

function rateLimit(input: Record<string, unknown>): RateLimitConfig {
  return rateLimitSchema.parse(input);
}

function route(input: Record<string, unknown> = {}): RouteConfig {
  return routeSchema.parse({ path: '/api', service: 'svc', ...input });
}

function ctx(clientIp: string, userId?: string): TestRequest {
  return testRequest({ clientIp, identity: userId === undefined ? undefined : { userId, roles: [] } });
}

const START = 1_780_000_000_000;

/** Runs the policy; returns the 429 error or undefined when admitted. */
function run(policy: Policy, context: TestRequest): GatewayError | undefined {
  try {
    const out = policy(context);
    assert.ok(!(out instanceof Promise), 'the memory store keeps the policy synchronous');
    assert.equal(out, undefined);
    return undefined;
  } catch (error) {
    assert.ok(error instanceof GatewayError);
    assert.equal(error.code, 'RATE_LIMITED');
    return error;
  }
}

test('burst, then 429 with Retry-After and RateLimit headers of the tightest scope', () => {
  const { clock, advance } = fakeClock(START);
  const store = new MemoryBucketStore({ maxEntries: 1000, clock });
  const policy = createRateLimitPolicy(
    route(),
    rateLimit({ global: 100, global_burst: 200, per_client: 2, per_client_burst: 4 }),
    store,
  )!;
  for (let i = 1; i <= 4; i++) {
    const c = ctx('203.0.113.9');
    assert.equal(run(policy, c), undefined);
    assert.deepEqual(c.responseHeaders, {
      'ratelimit-limit': '4',
      'ratelimit-remaining': String(4 - i),
      'ratelimit-reset': String(Math.ceil((i * 500) / 1000)),
      'ratelimit-policy': '4;w=2',
    });
  }
  const c = ctx('203.0.113.9');
  const refused = run(policy, c);
  assert.ok(refused);
  assert.equal(refused.status, 429);
  // Retry-After is the error's own; the RateLimit-* headers ride on responseHeaders, which the error answer carries.
  assert.deepEqual(refused.headers, { 'retry-after': '1' });
  assert.deepEqual(c.responseHeaders, {
    'ratelimit-limit': '4',
    'ratelimit-remaining': '0',
    'ratelimit-reset': '2',
    'ratelimit-policy': '4;w=2',
  });
  // Another client is unaffected; the first one gets a token back after 500 ms.
  assert.equal(run(policy, ctx('203.0.113.10')), undefined);
  advance(500);
  assert.equal(run(policy, ctx('203.0.113.9')), undefined);
});

test('the global scope limits everyone together and is reported when tightest', () => {
  const { clock } = fakeClock(START);
  const store = new MemoryBucketStore({ maxEntries: 1000, clock });
  const policy = createRateLimitPolicy(
    route(),
    rateLimit({ global: 1, global_burst: 3, per_client: 10, per_client_burst: 20 }),
    store,
  )!;
  for (let i = 0; i < 3; i++) assert.equal(run(policy, ctx(`198.51.100.${i}`)), undefined);
  const c = ctx('198.51.100.99');
  const refused = run(policy, c);
  assert.ok(refused);
  assert.equal(c.responseHeaders['ratelimit-limit'], '3');
  assert.equal(c.responseHeaders['ratelimit-policy'], '3;w=3');
  assert.equal(refused.headers?.['retry-after'], '1');
});

test('a client refused by its own bucket does not drain the global one', () => {
  const { clock } = fakeClock(START);
  const store = new MemoryBucketStore({ maxEntries: 1000, clock });
  const policy = createRateLimitPolicy(
    route(),
    rateLimit({ global: 1, global_burst: 5, per_client: 1, per_client_burst: 1 }),
    store,
  )!;
  assert.equal(run(policy, ctx('203.0.113.9')), undefined);
  for (let i = 0; i < 50; i++) assert.ok(run(policy, ctx('203.0.113.9')));
  for (let i = 0; i < 4; i++)
    assert.equal(run(policy, ctx(`198.51.100.${i}`)), undefined, 'global still has 4 tokens');
});

test('per-route override: its own bucket per client, burst 2x rate by default', () => {
  const { clock } = fakeClock(START);
  const store = new MemoryBucketStore({ maxEntries: 1000, clock });
  const config = rateLimit({ global: 0, per_client: 100, per_client_burst: 100 });
  const login = createRateLimitPolicy(
    route({ path: '/login', rate_limit: { per_client: 1 } }),
    config,
    store,
  )!;
  const other = createRateLimitPolicy(route({ path: '/other' }), config, store)!;
  const first = ctx('203.0.113.9');
  assert.equal(run(login, first), undefined);
  assert.equal(first.responseHeaders['ratelimit-limit'], '2');
  assert.equal(first.responseHeaders['ratelimit-policy'], '2;w=2');
  assert.equal(run(login, ctx('203.0.113.9')), undefined);
  const refused = run(login, ctx('203.0.113.9'));
  assert.ok(refused);
  assert.equal(refused.headers?.['retry-after'], '1');
  // The same client on another route only meets the general per-client limit.
  const elsewhere = ctx('203.0.113.9');
  assert.equal(run(other, elsewhere), undefined);
  assert.equal(elsewhere.responseHeaders['ratelimit-limit'], '100');
  assert.equal(
    elsewhere.responseHeaders['ratelimit-remaining'],
    '97',
    'the two admitted /login requests counted too',
  );
  // An explicit burst wins over the default.
  const explicit = createRateLimitPolicy(
    route({ path: '/x', rate_limit: { per_client: 1, per_client_burst: 7 } }),
    config,
    store,
  )!;
  const c = ctx('203.0.113.50');
  run(explicit, c);
  assert.equal(c.responseHeaders['ratelimit-limit'], '7');
});

test('authenticated clients are keyed by user id, others by IP', () => {
  const { clock } = fakeClock(START);
  const keys: string[][] = [];
  const memory = new MemoryBucketStore({ maxEntries: 1000, clock });
  const recording: BucketStore = {
    take: (k: readonly string[], limits: readonly BucketLimits[]): TakeResult => {
      keys.push([...k]);
      return memory.take(k, limits);
    },
    close: () => memory.close(),
  };
  const config = rateLimit({ global: 10, per_client: 1, per_client_burst: 1 });
  const policy = createRateLimitPolicy(
    route({ path: '/api', rate_limit: { per_client: 5 } }),
    config,
    recording,
  )!;
  run(policy, ctx('203.0.113.9', 'alice'));
  run(policy, ctx('203.0.113.9'));
  run(policy, ctx('2001:db8:1:2::9'));
  assert.deepEqual(keys, [
    ['g', 'c:u:alice', 'r:/api:u:alice'],
    ['g', 'c:ip:203.0.113.9', 'r:/api:ip:203.0.113.9'],
    ['g', 'c:ip:2001:db8:1:2::/64', 'r:/api:ip:2001:db8:1:2::/64'],
  ]);
  // Alice from the same IP has her own bucket, and follows her from any IP.
  assert.ok(run(policy, ctx('198.51.100.1', 'alice')), 'alice used her token from another IP');
  assert.equal(run(policy, ctx('203.0.113.9', 'bob')), undefined);
});

test('one IPv6 /64 is one client', () => {
  const { clock } = fakeClock(START);
  const store = new MemoryBucketStore({ maxEntries: 1000, clock });
  const policy = createRateLimitPolicy(
    route(),
    rateLimit({ global: 0, per_client: 1, per_client_burst: 3 }),
    store,
  )!;
  assert.equal(run(policy, ctx('2001:db8:1:2::1')), undefined);
  assert.equal(run(policy, ctx('2001:db8:1:2:aaaa::2')), undefined);
  assert.equal(run(policy, ctx('2001:db8:1:2:ffff:ffff:ffff:ffff')), undefined);
  assert.ok(run(policy, ctx('2001:db8:1:2::4')));
  assert.equal(run(policy, ctx('2001:db8:1:3::1')), undefined, 'the next /64 is another client');
});

test('no scope left: no policy', () => {
  const store = new MemoryBucketStore({ maxEntries: 10 });
  assert.equal(createRateLimitPolicy(route(), rateLimit({ global: 0, per_client: 0 }), store), null);
  assert.notEqual(
    createRateLimitPolicy(
      route({ rate_limit: { per_client: 1 } }),
      rateLimit({ global: 0, per_client: 0 }),
      store,
    ),
    null,
  );
});

test('store fallbacks: allow sends no RateLimit headers, deny is a 429 with Retry-After: 1 only', async () => {
  const failing = (allow: boolean): BucketStore => ({
    take: () => Promise.resolve(fallbackResult(allow, 'timeout')),
    close: async () => {},
  });
  const config = rateLimit({});
  const allowed = ctx('203.0.113.9');
  assert.equal(await createRateLimitPolicy(route(), config, failing(true))!(allowed), undefined);
  assert.deepEqual(allowed.responseHeaders, {});
  const denied = ctx('203.0.113.9');
  await assert.rejects(
    Promise.resolve(createRateLimitPolicy(route(), config, failing(false))!(denied)),
    (error: unknown) => {
      assert.ok(error instanceof GatewayError);
      assert.equal(error.status, 429);
      assert.deepEqual(error.headers, { 'retry-after': '1' });
      return true;
    },
  );
  assert.deepEqual(denied.responseHeaders, {});
});
