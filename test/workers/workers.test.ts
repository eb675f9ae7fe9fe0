// server.workers: 2 worker threads serve one port. Together they admit ONE configured
// rate-limit budget (shared memory, not a budget per worker); /metrics on the admin port
// sums them and /status shows each; reload reaches both; a worker that dies is replaced
// while the other serves; shutdown drains both.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { send, spread } from '../helpers/http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let upstream: TestUpstream;
let gw: TestGateway;

const config = (extraRoutes: object[] = []) => ({
  server: { workers: 2, shutdown_timeout: '2s' },
  log: { level: 'info' },
  services: { up: { url: upstream.url } },
  rate_limit: { store: 'memory', global: 0, per_client: 0 },
  routes: [
    // 0.1 token/s: nothing refills during the test, so the burst is the whole budget.
    {
      path: '/api',
      service: 'up',
      strip_prefix: true,
      rate_limit: { per_client: 0.1, per_client_burst: 10 },
    },
    { path: '/free', service: 'up' },
    ...extraRoutes,
  ],
});

before(async () => {
  upstream = await startUpstream((_req, res) => res.end('ok'));
  gw = await startTestGateway(config());
});

after(async () => {
  await gw?.close();
  await upstream?.close();
});

async function requestsTotal(labels: string): Promise<number> {
  const text = (await send(`${gw.adminUrl}/metrics`)).body.toString();
  const line = text.split('\n').find((l) => l.startsWith(`gatehouse_requests_total{${labels}}`));
  return line === undefined ? 0 : Number(line.split(' ').pop());
}

test('two workers admit one configured budget, not one each', async () => {
  const statuses = await spread(gw.url, '/api/x', 8, 5);
  assert.equal(statuses.length, 40);
  assert.equal(statuses.filter((s) => s === 200).length, 10, `statuses: ${statuses.join(',')}`);
  assert.equal(statuses.filter((s) => s === 429).length, 30);
  // Both workers took part: each reports its own share of the requests.
  const perWorker = (await gw.gateway.metricsJson()) as { name: string; values: { value: number }[] }[];
  const served = perWorker
    .filter((m) => m.name === 'gatehouse_requests_total')
    .map((m) => m.values.reduce((sum, v) => sum + v.value, 0));
  assert.equal(served.length, 2);
  assert.ok(
    served.every((n) => n > 0),
    `each worker served some of the 40: ${served.join(' + ')}`,
  );
});

test('/metrics sums the workers; /status shows each of them', async () => {
  const before = await requestsTotal('route="/free",method="GET",status="200"');
  const statuses = await spread(gw.url, '/free/a', 6, 5);
  assert.deepEqual(new Set(statuses), new Set([200]));
  assert.equal(await requestsTotal('route="/free",method="GET",status="200"'), before + 30);
  const status = (await send(`${gw.adminUrl}/status`)).json<{
    workers: { index: number; thread_id: number; services: Record<string, unknown> }[];
  }>();
  assert.deepEqual(
    status.workers.map((w) => w.index),
    [0, 1],
  );
  for (const worker of status.workers) assert.ok(worker.services.up, 'each worker reports its upstreams');
});

test('a reload reaches every worker', async () => {
  await gw.writeConfig(config([{ path: '/added', service: 'up' }]));
  const res = await send(`${gw.adminUrl}/reload`, { method: 'POST' });
  assert.equal(res.status, 200);
  const statuses = await spread(gw.url, '/added/x', 8, 2);
  assert.deepEqual(new Set(statuses), new Set([200]), 'the new route answers on every connection');
});

test('a killed worker is replaced, and the other serves meanwhile', async () => {
  const workers = gw.gateway.workers!;
  const killed = workers.list()[0];
  await workers.terminate(0);
  // The survivor answers every new connection while the replacement starts.
  const meanwhile = await spread(gw.url, '/free/b', 6, 2);
  assert.deepEqual(new Set(meanwhile), new Set([200]));
  for (let i = 0; i < 200 && workers.list()[0].restarts === 0; i++) await sleep(50);
  const replacement = workers.list()[0];
  assert.equal(replacement.restarts, 1);
  assert.notEqual(replacement.threadId, killed.threadId);
  const logged = gw
    .logs()
    .find((line) => line.msg === 'worker died; starting a replacement while the others serve');
  assert.ok(logged, 'the death is logged');
  assert.equal(logged.worker, 0);
  // Once serving, the replacement answers /status too.
  for (let i = 0; i < 200; i++) {
    const status = (await send(`${gw.adminUrl}/status`)).json<{
      workers: { thread_id: number; services?: object }[];
    }>();
    if (status.workers[0].thread_id === replacement.threadId && status.workers[0].services) break;
    await sleep(50);
  }
  const after = await spread(gw.url, '/free/c', 8, 2);
  assert.deepEqual(new Set(after), new Set([200]));
});

test('a reload sent while a replacement worker starts is answered once it serves', async () => {
  const workers = gw.gateway.workers!;
  const restarts = workers.list()[1].restarts;
  await workers.terminate(1);
  // The replacement is spawned (it holds position 1) but still starting.
  for (let i = 0; i < 200 && workers.list()[1].restarts === restarts; i++) await sleep(5);
  assert.equal(workers.list()[1].restarts, restarts + 1);
  const res = await Promise.race([
    send(`${gw.adminUrl}/reload`, { method: 'POST' }),
    sleep(20_000, undefined, { ref: false }).then(() => assert.fail('the reload was never answered')),
  ]);
  assert.equal(res.status, 200, res.body.toString());
  assert.deepEqual(new Set(await spread(gw.url, '/free/e', 8, 2)), new Set([200]));
});

test('shutdown drains every worker and stops', async () => {
  await gw.close();
  const stopped = gw.logs().filter((line) => line.msg === 'gateway stopped');
  // Each worker's gateway and the supervisor say so.
  assert.equal(stopped.length, 3);
  await assert.rejects(send(`${gw.url}/free/d`));
});
