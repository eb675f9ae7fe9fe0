// A 90/10 canary split through real sockets: the share holds within a few percent over
// 2,000 requests, a client's X-Canary-Key keeps it on one side, and each service keeps
// its own pool (and so its own health and breakers).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let stable: TestUpstream;
let canary: TestUpstream;
let gw: TestGateway;

before(async () => {
  stable = await startUpstream((_req, res) => res.end('stable'));
  canary = await startUpstream((_req, res) => res.end('canary'));
  gw = await startTestGateway({
    log: { access_log: false },
    services: { orders: { url: stable.url }, 'orders-canary': { url: canary.url } },
    routes: [
      {
        path: '/orders',
        service: 'orders',
        split: [
          { service: 'orders', weight: 90 },
          { service: 'orders-canary', weight: 10 },
        ],
      },
    ],
  });
});

after(async () => {
  await gw.close();
  await Promise.all([stable.close(), canary.close()]);
});

test('a 90/10 split sends about 10% of 2,000 requests to the canary', async () => {
  const total = 2000;
  // Eight keep-alive loops of 250 requests each.
  const statuses = new Set<number>();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = 0; i < total / 8; i++) statuses.add((await send(`${gw.url}/orders/${i}`)).status);
    }),
  );
  assert.deepEqual([...statuses], [200]);
  const share = canary.requests.length / total;
  assert.equal(stable.requests.length + canary.requests.length, total);
  assert.ok(Math.abs(share - 0.1) < 0.03, `canary share ${share}`);

  const metrics = (await send(`${gw.adminUrl}/metrics`)).body.toString();
  const counted = Number(
    /gatehouse_split_requests_total\{route="\/orders",service="orders-canary",status="200"\} (\d+)/.exec(
      metrics,
    )?.[1],
  );
  assert.equal(counted, canary.requests.length, 'metrics are labelled with the chosen service');
  assert.match(metrics, /gatehouse_requests_total\{route="\/orders",method="GET",status="200"\} 2000/);
});

test('the same X-Canary-Key always lands on the same side', async () => {
  const sides = new Map<string, Set<string>>();
  for (let key = 0; key < 100; key++) {
    for (let round = 0; round < 3; round++) {
      const response = await send(`${gw.url}/orders/x`, { headers: { 'x-canary-key': `user-${key}` } });
      const side = response.body.toString();
      const seen = sides.get(`user-${key}`) ?? new Set();
      seen.add(side);
      sides.set(`user-${key}`, seen);
    }
  }
  for (const [key, seen] of sides)
    assert.equal(seen.size, 1, `${key} moved between ${[...seen].join(' and ')}`);
  const onCanary = [...sides.values()].filter((seen) => seen.has('canary')).length;
  assert.ok(onCanary > 0 && onCanary < 40, `${onCanary} of 100 keys on the canary`);
});
