// Rate limits through a real gateway and real sockets: the headers and 429 a client
// sees, X-Forwarded-For trust, gateways sharing one Redis, and a Redis outage.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { requireRedis, startRedis } from '../helpers/redis.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let upstream: TestUpstream | undefined;
const gateways: TestGateway[] = [];
after(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await upstream?.close();
});

async function gateway(
  rateLimit: Record<string, unknown>,
  server: Record<string, unknown> = {},
): Promise<TestGateway> {
  upstream ??= await startUpstream();
  const started = await startTestGateway({
    server,
    services: { echo: { url: upstream.url } },
    routes: [
      { path: '/api', service: 'echo' },
      { path: '/login', service: 'echo', rate_limit: { per_client: 0.01, per_client_burst: 1 } },
    ],
    rate_limit: rateLimit,
  });
  gateways.push(started);
  return started;
}

const SLOW = { global: 0, per_client: 0.01, per_client_burst: 3 };

test('burst, then 429 with Retry-After, RateLimit headers and the JSON error', async () => {
  const gw = await gateway(SLOW);
  // The bucket refills one token per 100 s from the first request on; the waits the
  // refusal reports shrink by however long the requests took (a loaded machine can take
  // seconds), so the expected values are bounded by the measured elapsed time.
  const started = performance.now();
  for (let i = 2; i >= 0; i--) {
    const ok = await send(`${gw.url}/api/x`);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['ratelimit-limit'], '3');
    assert.equal(ok.headers['ratelimit-remaining'], String(i));
    assert.equal(ok.headers['ratelimit-policy'], '3;w=300');
  }
  const refused = await send(`${gw.url}/api/x`);
  const elapsedS = (performance.now() - started) / 1000;
  assert.equal(refused.status, 429);
  const retryAfter = Number(refused.headers['retry-after']);
  const reset = Number(refused.headers['ratelimit-reset']);
  assert.ok(
    Number.isInteger(retryAfter) && retryAfter <= 100 && retryAfter >= Math.ceil(100 - elapsedS),
    `Retry-After ${refused.headers['retry-after']} after ${elapsedS.toFixed(2)} s`,
  );
  assert.ok(
    Number.isInteger(reset) && reset <= 300 && reset >= Math.ceil(300 - elapsedS),
    `RateLimit-Reset ${refused.headers['ratelimit-reset']} after ${elapsedS.toFixed(2)} s`,
  );
  // Both count from the same instant: the next token comes two periods before the bucket is full.
  assert.equal(reset - retryAfter, 200);
  assert.equal(refused.headers['ratelimit-remaining'], '0');
  assert.equal(refused.json<{ error: { code: string } }>().error.code, 'RATE_LIMITED');
  // The route's own bucket is tighter and shared with nothing else.
  const login = await send(`${gw.url}/login`);
  assert.equal(login.status, 429, 'the per-client bucket is already empty');
});

test('X-Forwarded-For from an untrusted peer does not make a new client', async () => {
  const gw = await gateway(SLOW);
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    statuses.push(
      (await send(`${gw.url}/api/x`, { headers: { 'x-forwarded-for': `198.51.100.${i}` } })).status,
    );
  }
  assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);
});

test('behind a trusted proxy each forwarded client has its own bucket', async () => {
  const gw = await gateway(SLOW, { trusted_proxies: ['127.0.0.0/8', '::1'] });
  for (let i = 0; i < 3; i++) {
    assert.equal(
      (await send(`${gw.url}/api/x`, { headers: { 'x-forwarded-for': '198.51.100.1' } })).status,
      200,
    );
  }
  assert.equal(
    (await send(`${gw.url}/api/x`, { headers: { 'x-forwarded-for': '198.51.100.1' } })).status,
    429,
  );
  // Rotating the part left of the proxy's own hop changes nothing.
  const spoofed = await send(`${gw.url}/api/x`, { headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.1' } });
  assert.equal(spoofed.status, 429);
  assert.equal(
    (await send(`${gw.url}/api/x`, { headers: { 'x-forwarded-for': '198.51.100.2' } })).status,
    200,
  );
});

test('two gateways on one Redis share the budget; with Redis gone, allow answers without RateLimit headers', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis();
  t.after(() => redis.stop());
  const config = {
    ...SLOW,
    store: 'redis',
    redis_url: redis.url,
    key_prefix: 'e2e:',
    on_store_error: 'allow',
  };
  const proxied = { trusted_proxies: ['127.0.0.0/8', '::1'] };
  const a = await gateway(config, proxied);
  const b = await gateway(config, proxied);
  // Until a gateway's store is connected, allow answers without numbers: wait for them
  // with a client of its own.
  for (const gw of [a, b]) {
    const deadline = Date.now() + 5000;
    while (
      (await send(`${gw.url}/api/x`, { headers: { 'x-forwarded-for': '203.0.113.250' } })).headers[
        'ratelimit-limit'
      ] === undefined
    ) {
      assert.ok(Date.now() < deadline, 'store connected');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  const client = { 'x-forwarded-for': '198.51.100.1' };
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++)
    statuses.push((await send(`${(i % 2 === 0 ? a : b).url}/api/x`, { headers: client })).status);
  assert.deepEqual(statuses, [200, 200, 200, 429, 429, 429]);

  await redis.kill('SIGKILL');
  const started = performance.now();
  const during = await send(`${a.url}/api/x`, { headers: client });
  assert.ok(performance.now() - started < 1000);
  assert.equal(during.status, 200, 'on_store_error: allow');
  assert.equal(during.headers['ratelimit-limit'], undefined, 'no invented numbers');
  const metrics = await send(`${a.adminUrl}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(metrics.body.toString(), /gatehouse_ratelimit_store_errors_total\{decision="allow"\} [1-9]/);
});

test('with on_store_error: deny a Redis outage is a 429, and limits apply again once Redis restarts', async (t) => {
  if (!requireRedis(t)) return;
  const redis = await startRedis();
  t.after(() => redis.stop());
  const gw = await gateway({
    ...SLOW,
    store: 'redis',
    redis_url: redis.url,
    key_prefix: 'deny:',
    on_store_error: 'deny',
  });
  const untilCounted = async (headers: Record<string, string>) => {
    const deadline = Date.now() + 5000;
    for (;;) {
      const response = await send(`${gw.url}/api/x`, { headers });
      if (response.headers['ratelimit-limit'] !== undefined) return response;
      assert.ok(Date.now() < deadline, 'the store decides with numbers again');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const first = await untilCounted({});
  assert.equal(first.status, 200);

  await redis.kill('SIGKILL');
  const started = performance.now();
  const refused = await send(`${gw.url}/api/x`);
  assert.ok(performance.now() - started < 1000, 'decided within the deadline, not after a reconnect');
  assert.equal(refused.status, 429);
  assert.equal(refused.headers['retry-after'], '1');
  assert.equal(refused.json<{ error: { code: string } }>().error.code, 'RATE_LIMITED');
  assert.equal((await send(`${gw.url}/health`)).status, 200, 'no crash');

  await redis.restart();
  // A fresh Redis has empty buckets: the client's burst of 3 is counted from scratch.
  const back = await untilCounted({});
  assert.equal(back.status, 200);
  const statuses = [back.status];
  for (let i = 0; i < 3; i++) statuses.push((await send(`${gw.url}/api/x`)).status);
  assert.deepEqual(statuses, [200, 200, 200, 429]);
  const metrics = (await send(`${gw.adminUrl}/metrics`)).body.toString();
  assert.match(metrics, /gatehouse_ratelimit_store_errors_total\{decision="deny"\} [1-9]/);
});
