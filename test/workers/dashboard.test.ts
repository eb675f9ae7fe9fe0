// The dashboard and the route explainer with server.workers: 2 show the whole gateway:
// a route's count over the last minute is every request, whichever worker served it;
// reloads are listed once each (refused ones too); instance state is merged with each
// worker's view kept; a worker that does not answer in time is left out and counted,
// and the page still answers (the others' figures), neither a 500 nor a hang. The page
// itself (headless Chromium) says when workers disagree and when one is missing.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { Client } from 'undici';
import type { DashboardState } from '../../src/admin/dashboard-state.ts';
import type { RouteExplanation } from '../../src/admin/route-explainer.ts';
import { launchChromium } from '../helpers/chromium.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { send, spread } from '../helpers/http.ts';
import { until } from '../helpers/until.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/** The supervisor's deadline for a worker's answer (src/workers/supervisor.ts). */
const CALL_TIMEOUT_MS = 5000;
/** How long the stuck worker stalls: past that deadline. */
const STALL_MS = 8000;

let upstream: TestUpstream;
let failing: TestUpstream;
let gw: TestGateway;
let dir: string;
let browser: Browser | undefined;
let page: Page | undefined;
const marker = () => join(dir, 'stalled');

const config = (extraRoutes: object[] = []) => ({
  server: { workers: 2, shutdown_timeout: '2s' },
  services: {
    up: { url: upstream.url },
    orders: {
      url: failing.url,
      circuit_breaker: { min_requests: 2, failure_ratio: 0.5, timeout: '60s', interval: '60s' },
    },
  },
  plugins: {
    stall: {
      module: fileURLToPath(new URL('./fixtures/blocks-thread.ts', import.meta.url)),
      options: { marker: marker(), ms: STALL_MS },
    },
  },
  routes: [
    { path: '/counted', service: 'up' },
    { path: '/stall', service: 'up', policies: ['stall'] },
    { path: '/orders', service: 'orders' },
    ...extraRoutes,
  ],
});

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-dashboard-workers-'));
  upstream = await startUpstream((_req, res) => res.end('ok'));
  failing = await startUpstream((_req, res) => {
    res.statusCode = 500;
    res.end('no');
  });
  gw = await startTestGateway(config(), { watch: false });
});

after(async () => {
  await browser?.close();
  await gw?.close();
  await upstream?.close();
  await failing?.close();
  await rm(dir, { recursive: true, force: true });
});

async function state(): Promise<DashboardState> {
  const response = await send(`${gw.adminUrl}/api/state`);
  assert.equal(response.status, 200, response.body.toString());
  return response.json<DashboardState>();
}

const routeMinute = (s: DashboardState, route: string) =>
  s.routes.find((r) => r.route === route)?.last_minute ?? null;

/** Each worker's own count of a route's requests in the last minute. */
async function perWorker(route: string): Promise<number[]> {
  const workers = (await gw.gateway.metricsJson()) as {
    name: string;
    values: { value: number; labels: { route?: string } }[];
  }[];
  return workers
    .filter((m) => m.name === 'gatehouse_requests_total')
    .map((m) => m.values.filter((v) => v.labels.route === route).reduce((sum, v) => sum + v.value, 0));
}

test("a route's total on the dashboard is every request, whichever worker served it", async () => {
  const N = 48;
  const statuses = await spread(gw.url, '/counted/x', 8, N / 8);
  assert.deepEqual(new Set(statuses), new Set([200]));
  const shares = await perWorker('/counted');
  assert.equal(shares.length, 2);
  assert.ok(
    shares.every((n) => n > 0),
    `both workers served some: ${shares.join(' + ')}`,
  );
  const s = await state();
  const minute = routeMinute(s, '/counted');
  assert.equal(
    minute?.requests,
    N,
    `the dashboard's total is N, not one worker's share (${shares.join(' + ')})`,
  );
  assert.equal(minute?.errors, 0);
  assert.equal(
    minute?.latency.reduce((sum, n) => sum + n, 0),
    N,
    'the latency buckets hold every request',
  );
  assert.ok(minute?.p50Ms !== undefined && minute.p99Ms !== undefined);
  assert.equal(s.gateway.workers, 2);
  assert.equal(s.gateway.workers_missing, 0);
  assert.equal(s.gateway.state, 'ready');
  const instance = s.services.find((service) => service.name === 'up')?.instances[0];
  assert.equal(instance?.origin, upstream.url);
  assert.equal(instance?.healthy, true);
  assert.equal(instance?.breaker, 'closed');
  assert.deepEqual(
    instance?.workers?.map((view) => view.worker),
    [0, 1],
    "each worker's view of the instance is there",
  );
});

test('the route explainer explains from the shared config and merges the instances', async () => {
  const response = await send(`${gw.adminUrl}/debug/route?method=GET&host=x&path=/counted/1`);
  assert.equal(response.status, 200);
  const explained = response.json<RouteExplanation>();
  assert.equal(explained.route, '/counted');
  assert.equal(explained.workersMissing, 0);
  const [instance] = explained.instances;
  assert.equal(instance.origin, upstream.url);
  assert.deepEqual(
    instance.workers?.map((view) => view.worker),
    [0, 1],
  );
});

test('reloads are listed once each, the refused ones too', async () => {
  await gw.writeConfig(config([{ path: '/added', service: 'up' }]));
  assert.equal((await send(`${gw.adminUrl}/reload`, { method: 'POST' })).status, 200);
  await gw.writeConfig({ ...config(), routes: [{ path: '/broken', service: 'nowhere' }] });
  assert.notEqual((await send(`${gw.adminUrl}/reload`, { method: 'POST' })).status, 200);
  const { reloads, routes } = await state();
  assert.equal(reloads.length, 2, JSON.stringify(reloads));
  assert.equal(reloads[0].ok, false);
  assert.match(reloads[0].errors?.join('\n') ?? '', /nowhere/);
  assert.equal(reloads[1].ok, true);
  assert.deepEqual(reloads[1].changes, ['route /added added']);
  assert.ok(routes.some((r) => r.route === '/added'));
  await gw.writeConfig(config([{ path: '/added', service: 'up' }]));
});

test('the page shows an instance whose breaker is open on one worker only as open there', async (t) => {
  // One connection reaches one worker: only that worker's breaker sees the failures.
  const client = new Client(gw.url);
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await client.request({ method: 'GET', path: '/orders' });
      await res.body.dump();
      statuses.push(res.statusCode);
    }
    assert.deepEqual(statuses, [500, 500, 503], 'the breaker of the worker serving them opened');
  } finally {
    await client.close();
  }
  const instance = (await state()).services.find((service) => service.name === 'orders')?.instances[0];
  assert.equal(instance?.breaker, 'open', 'not closed while any worker has it open');
  assert.deepEqual(instance?.workers?.map((view) => view.breaker).sort(), ['closed', 'open']);

  browser = await launchChromium(t);
  if (!browser) return;
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(gw.adminUrl);
  const row = page.locator(`[data-instance="${failing.url}"]`);
  await row.and(page.locator('[data-breaker="open"]')).waitFor({ timeout: 10_000 });
  assert.match((await row.textContent()) ?? '', /open on 1 of 2 workers/);
  assert.match(
    (await row.getAttribute('title')) ?? '',
    /worker 0: up, (open|closed).*\nworker 1: up, (open|closed)/s,
  );
  assert.match((await page.locator('#gateway-facts').textContent()) ?? '', /workers\s*2/);
});

test('a stuck worker is left out and counted; the page answers with the others', async () => {
  const before = routeMinute(await state(), '/counted')?.requests ?? 0;
  const stalled = send(`${gw.url}/stall`);
  await until(() => existsSync(marker()), 'a worker is stalled', 5000);
  const started = performance.now();
  const shown = page?.locator('[data-workers-missing="1"]').waitFor({ timeout: STALL_MS });
  const [s, explained] = await Promise.all([
    state(),
    send(`${gw.adminUrl}/debug/route?method=GET&host=x&path=/counted/1`).then((r) =>
      r.json<RouteExplanation>(),
    ),
  ]);
  const waited = performance.now() - started;
  assert.ok(
    waited >= CALL_TIMEOUT_MS - 500 && waited < STALL_MS,
    `answered after the deadline: ${waited} ms`,
  );
  assert.equal(s.gateway.workers, 2);
  assert.equal(s.gateway.workers_missing, 1);
  assert.equal(s.gateway.state, 'ready');
  assert.ok((routeMinute(s, '/counted')?.requests ?? 0) <= before, "the other worker's figures only");
  assert.equal(s.services.find((service) => service.name === 'up')?.instances[0].workers?.length, 1);
  assert.equal(explained.route, '/counted');
  assert.equal(explained.workersMissing, 1);
  // The page (open since the test before, polling) says so in its header.
  await shown;
  if (page) assert.match((await page.locator('#gateway-facts').textContent()) ?? '', /2, 1 not answering/);
  // Once the worker is back, it answers its request and the dashboard again.
  assert.equal((await stalled).status, 200);
  assert.equal((await state()).gateway.workers_missing, 0);
});

test('a worker that died is counted as missing at once, until its replacement serves', async () => {
  const workers = gw.gateway.workers!;
  await workers.terminate(1);
  const started = performance.now();
  const s = await state();
  assert.ok(performance.now() - started < CALL_TIMEOUT_MS - 1000, 'no wait for a worker that is gone');
  assert.equal(s.gateway.workers_missing, 1);
  let missing = 1;
  for (let i = 0; i < 100 && missing > 0; i++) {
    missing = (await state()).gateway.workers_missing ?? 0;
    if (missing > 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(missing, 0, 'the replacement answers');
  assert.equal(workers.list()[1].restarts, 1);
});
