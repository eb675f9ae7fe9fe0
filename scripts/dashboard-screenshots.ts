// Writes docs/dashboard-laptop.png and docs/dashboard-phone.png: a gateway in front of
// local services, some traffic (including 401s, 429s and a failing service whose
// breaker opens), an instance whose health check fails, and a reload, then the
// dashboard in headless Chromium at laptop and phone widths.
// `node scripts/dashboard-screenshots.ts` (needs /usr/bin/chromium or CHROMIUM).
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startAuthStub } from '../test/helpers/auth-stub.ts';
import { startTestGateway } from '../test/helpers/gateway.ts';
import { send } from '../test/helpers/http.ts';
import { startUpstream } from '../test/helpers/upstream.ts';

const docs = (name: string) => fileURLToPath(new URL(`../docs/${name}`, import.meta.url));
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const users1 = await startUpstream();
const users2 = await startUpstream();
let ordersHealth = 200;
const orders1 = await startUpstream();
const orders2 = await startUpstream((req, res) => {
  res.writeHead(req.url === '/health' ? ordersHealth : 200);
  res.end();
});
const payments = await startUpstream((req, res) => {
  res.writeHead(req.url === '/health' ? 200 : 502);
  res.end();
});
const auth = await startAuthStub({ tokens: { 'demo-token': { user_id: 'alice', roles: ['reader'] } } });
const healthCheck = { path: '/health', interval: '500ms', timeout: '1s', retries: 1 };
const config = {
  auth: { mode: 'remote', verify_url: auth.verifyUrl },
  rate_limit: { global: 1000, global_burst: 1000, per_client: 40, per_client_burst: 40 },
  services: {
    users: { urls: [users1.url, users2.url], health_check: healthCheck },
    orders: { urls: [orders1.url, orders2.url], load_balancing: 'least_connections', health_check: healthCheck },
    payments: {
      url: payments.url,
      circuit_breaker: { min_requests: 3, failure_ratio: 0.5, timeout: '45s' },
    },
  },
  routes: [
    { path: '/api/users', service: 'users', strip_prefix: true, auth: 'optional' },
    { path: '/api/orders', service: 'orders', auth: 'required' },
    { path: '/api/payments', service: 'payments', auth: 'none', methods: ['POST'] },
  ],
};
const gw = await startTestGateway(config);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  const token = { authorization: 'Bearer demo-token' };
  for (let i = 0; i < 60; i++) {
    await send(`${gw.url}/api/users/${i}`);
    if (i % 2 === 0) await send(`${gw.url}/api/orders/${i}`, { headers: token });
  }
  for (let i = 0; i < 6; i++) await send(`${gw.url}/api/orders`, { headers: { authorization: 'Bearer wrong' } });
  for (let i = 0; i < 4; i++) await send(`${gw.url}/api/payments`, { method: 'POST' });
  await send(`${gw.url}/nowhere`);
  await gw.writeConfig({
    ...config,
    routes: [...config.routes, { path: '/api/v2/users', service: 'users', auth: 'required' }],
  });
  await send(`${gw.adminUrl}/reload`, { method: 'POST' });
  ordersHealth = 503;
  await pause(1500);

  for (const [name, viewport, scale] of [
    ['dashboard-laptop.png', { width: 1280, height: 900 }, 1],
    ['dashboard-phone.png', { width: 390, height: 844 }, 2],
  ] as const) {
    const page = await browser.newPage({ viewport, deviceScaleFactor: scale, colorScheme: 'light' });
    await page.goto(gw.adminUrl);
    await page.locator('[data-instance]').first().waitFor();
    await page.locator('#explain-form input[name="path"]').fill('/api/orders/7?expand=items');
    await page.locator('#explain-form button').click();
    await page.locator('[data-matched-route]').waitFor();
    await pause(300);
    await page.screenshot({ path: docs(name), fullPage: true });
    await page.close();
    process.stdout.write(`wrote docs/${name}\n`);
  }
} finally {
  await browser.close();
  await gw.close();
  await Promise.all([users1, users2, orders1, orders2, payments].map((u) => u.close()));
  await auth.close();
}
