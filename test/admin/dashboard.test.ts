// The dashboard in a real headless Chromium: it loads behind the admin token, shows an
// instance going down once its health check fails, and a breaker opening.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, type TestContext, test } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { launchChromium } from '../helpers/chromium.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const TOKEN = 'dashboard-test-token-0123456789';
let healthy: TestUpstream;
let flaky: TestUpstream;
let failing: TestUpstream;
let gw: TestGateway;
let flakyHealth = 200;
let browser: Browser | undefined;
let page: Page | undefined;

before(async () => {
  healthy = await startUpstream();
  // Its health endpoint answers what the test says; its traffic is always fine.
  flaky = await startUpstream((req, res) => answer(res, req.url === '/health' ? flakyHealth : 200));
  failing = await startUpstream((req, res) => answer(res, req.url === '/health' ? 200 : 500));
  gw = await startTestGateway(
    {
      services: {
        users: {
          urls: [healthy.url, flaky.url],
          health_check: { path: '/health', interval: '200ms', timeout: '1s', retries: 1 },
        },
        orders: {
          url: failing.url,
          circuit_breaker: { min_requests: 2, failure_ratio: 0.5, timeout: '30s', interval: '60s' },
        },
      },
      routes: [
        { path: '/users', service: 'users' },
        { path: '/orders', service: 'orders' },
      ],
    },
    { env: { ADMIN_TOKEN: TOKEN } },
  );
});

after(async () => {
  await browser?.close();
  await gw.close();
  await Promise.all([healthy.close(), flaky.close(), failing.close()]);
});

async function text(locator: Locator): Promise<string> {
  return (await locator.textContent()) ?? '';
}

function answer(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(String(status));
}

/** The dashboard, opened once per file (Chromium's start is the slow part) and unlocked with the token. */
async function dashboard(t: TestContext): Promise<Page | undefined> {
  if (page) return page;
  browser = await launchChromium(t);
  if (!browser) return undefined;
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().includes('401')) problems.push(message.text());
  });
  await page.goto(gw.adminUrl);
  // Asked once for the token; a wrong one is refused and asked again.
  await page.locator('#token').fill('not-the-token-at-all');
  await page.locator('#token-form button').click();
  await page.locator('#token-error').waitFor({ state: 'visible' });
  await page.locator('#token').fill(TOKEN);
  await page.locator('#token-form button').click();
  await page.locator('[data-service="users"]').waitFor();
  assert.deepEqual(problems, []);
  return page;
}

test('the dashboard shows an instance going down within seconds of its health check failing', async (t) => {
  const page = await dashboard(t);
  if (!page) return;
  try {
    const row = page.locator(`[data-instance="${flaky.url}"]`);
    await row.and(page.locator('[data-health="up"]')).waitFor({ timeout: 10_000 });
    assert.match(await text(row), /passed .*ago/);
    assert.equal(await text(page.locator('#gateway-state')), 'ready');
    assert.match(await text(page.locator('#gateway-facts')), /version\s*:?\s*\d+\.\d+\.\d+/);

    flakyHealth = 503;
    const failedAt = Date.now();
    await row.and(page.locator('[data-health="down"]')).waitFor({ timeout: 10_000 });
    assert.ok(Date.now() - failedAt < 10_000);
    assert.match(await text(row), /down/);
    assert.match(await text(row), /failed .*ago/);
    assert.match(await text(page.locator('[data-service="users"] h3')), /1\/2 up/);
    // The page stays read-only: nothing on it posts anything but the explainer form.
    assert.equal(await page.locator('form').count(), 2);
  } finally {
    flakyHealth = 200;
  }
});

test('the dashboard shows a breaker opening, with the time until half-open, and route figures', async (t) => {
  const page = await dashboard(t);
  if (!page) return;
  const row = page.locator(`[data-instance="${failing.url}"]`);
  await row.and(page.locator('[data-breaker="closed"]')).waitFor();
  for (let i = 0; i < 2; i++) assert.equal((await send(`${gw.url}/orders`)).status, 500);
  assert.equal((await send(`${gw.url}/orders`)).status, 503, 'the breaker is open');
  await row.and(page.locator('[data-breaker="open"]')).waitFor({ timeout: 10_000 });
  assert.match(await text(row), /open\s+half-open in \d+s/);
  const route = page.locator('[data-route="/orders"]');
  await page.waitForFunction(() =>
    /%/.test(document.querySelector('[data-route="/orders"]')?.textContent ?? ''),
  );
  assert.match(await text(route), /100%/, 'every /orders answer in the last minute was a 5xx');
});

test('the dashboard explains a request with its form', async (t) => {
  const page = await dashboard(t);
  if (!page) return;
  await page.locator('#explain-form input[name="path"]').fill('/users/42?x=1');
  await page.locator('#explain-form button').click();
  await page.locator('[data-matched-route="/users"]').waitFor();
  assert.match(await text(page.locator('#explain-result')), /forwarded as\s+\/users\/42\?x=1/);
  assert.match(
    await text(page.locator('[data-explained-route="/orders"]')),
    /path \/users\/42 is not under \/orders/,
  );
});
