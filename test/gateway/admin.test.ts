// The admin listener: metrics, status, readiness, and reloads that drop nothing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let a: TestUpstream;
let b: TestUpstream;
let gw: TestGateway;

const baseConfig = () => ({
  services: { a: { url: a.url }, b: { url: b.url } },
  routes: [{ path: '/a', service: 'a' }],
});

before(async () => {
  a = await startUpstream((_req, res) => res.end('from a'));
  b = await startUpstream((_req, res) => res.end('from b'));
  gw = await startTestGateway(baseConfig());
});

after(async () => {
  await gw.close();
  await a.close();
  await b.close();
});

async function metricValue(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const text = (await send(`${gw.adminUrl}/metrics`)).body.toString();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      return Number(line.split(' ').pop());
  }
  return undefined;
}

test('metrics count requests by route, method and status, and report upstream state', async () => {
  await send(`${gw.url}/a/1`);
  await send(`${gw.url}/a/2`);
  await send(`${gw.url}/missing`);
  assert.equal(
    await metricValue('gatehouse_requests_total', { route: '/a', method: 'GET', status: '200' }),
    2,
  );
  assert.equal(await metricValue('gatehouse_requests_total', { route: '', status: '404' }), 1);
  assert.equal(await metricValue('gatehouse_upstream_up', { service: 'a', instance: a.url }), 1);
  assert.equal(await metricValue('gatehouse_breaker_state', { service: 'a', instance: a.url }), 0);
  const text = (await send(`${gw.adminUrl}/metrics`)).body.toString();
  assert.match(text, /gatehouse_request_duration_seconds_bucket\{le="0.005",route="\/a"\}/);
  assert.match(text, /gatehouse_process_resident_memory_bytes/);
});

test('status lists every instance with health, breaker and in-flight count', async () => {
  const status = (await send(`${gw.adminUrl}/status`)).json<{ services: Record<string, unknown[]> }>();
  assert.deepEqual(status.services.a, [
    { origin: a.url, healthy: true, breaker: 'closed', inFlight: 0, weight: 1 },
  ]);
});

test('admin endpoints are not served on the public port', async () => {
  assert.equal((await send(`${gw.url}/metrics`)).status, 404);
  assert.equal((await send(`${gw.url}/status`)).status, 404);
  assert.equal((await send(`${gw.adminUrl}/ready`)).status, 200);
});

test('POST /reload applies a new config; an invalid one is refused and the old one keeps serving', async () => {
  await gw.writeConfig({ ...baseConfig(), routes: [...baseConfig().routes, { path: '/b', service: 'b' }] });
  const ok = await send(`${gw.adminUrl}/reload`, { method: 'POST' });
  assert.equal(ok.status, 200);
  assert.equal((await send(`${gw.url}/b`)).body.toString(), 'from b');

  await gw.writeConfig({ ...baseConfig(), routes: [{ path: '/a', service: 'nope' }] });
  const refused = await send(`${gw.adminUrl}/reload`, { method: 'POST' });
  assert.equal(refused.status, 422);
  assert.match(JSON.stringify(refused.json()), /no service named \\"nope\\"/);
  assert.equal((await send(`${gw.url}/b`)).body.toString(), 'from b', 'the previous config still serves');
  assert.ok((await metricValue('gatehouse_config_reloads_total', { result: 'failure' }))! >= 1);
  assert.ok(
    gw
      .logs()
      .some((line) => line.msg === 'configuration reload failed; the running configuration stays in force'),
  );
});

test('a 405 is counted under the route it matched', async () => {
  await gw.writeConfig({ ...baseConfig(), routes: [{ path: '/a', service: 'a', methods: ['GET'] }] });
  assert.equal((await send(`${gw.adminUrl}/reload`, { method: 'POST' })).status, 200);
  assert.equal((await send(`${gw.url}/a`, { method: 'DELETE' })).status, 405);
  assert.equal(
    await metricValue('gatehouse_requests_total', { route: '/a', method: 'DELETE', status: '405' }),
    1,
  );
});
