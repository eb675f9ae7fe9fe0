// admin.token: every admin endpoint but the probes needs the bearer token; without a
// token the listener belongs on loopback, and validate says so when it is not.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { adminExposureWarning } from '../../src/admin/exposure.ts';
import { parseConfig } from '../../src/config/load.ts';
import { runCli } from '../helpers/cli.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const TOKEN = 'correct-horse-battery-staple';
const BASE = { services: { a: { url: 'http://127.0.0.1:1' } }, routes: [{ path: '/', service: 'a' }] };
let upstream: TestUpstream;
let gw: TestGateway;

before(async () => {
  upstream = await startUpstream();
  // The token comes from the environment, as ADMIN_TOKEN, like any other key.
  gw = await startTestGateway(
    { services: { a: { url: upstream.url } }, routes: [{ path: '/a', service: 'a' }] },
    { env: { ADMIN_TOKEN: TOKEN } },
  );
});

after(async () => {
  await gw.close();
  await upstream.close();
});

const PROTECTED = ['/metrics', '/status', '/api/state', '/debug/route?path=/a'];

test('admin endpoints refuse a missing or wrong token with 401', async () => {
  for (const path of PROTECTED) {
    const missing = await send(`${gw.adminUrl}${path}`);
    assert.equal(missing.status, 401, `${path} without a token`);
    assert.equal(missing.json<{ error: { code: string } }>().error.code, 'UNAUTHORIZED');
    assert.match(String(missing.headers['www-authenticate']), /^Bearer/);
    for (const authorization of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, TOKEN, 'Basic abc']) {
      const wrong = await send(`${gw.adminUrl}${path}`, { headers: { authorization } });
      assert.equal(wrong.status, 401, `${path} with ${authorization}`);
    }
  }
  const reload = await send(`${gw.adminUrl}/reload`, { method: 'POST' });
  assert.equal(reload.status, 401, 'a reload needs the token too');
});

test('admin endpoints accept the right token', async () => {
  const headers = { authorization: `Bearer ${TOKEN}` };
  assert.equal((await send(`${gw.adminUrl}/metrics`, { headers })).status, 200);
  assert.equal((await send(`${gw.adminUrl}/status`, { headers })).status, 200);
  assert.equal((await send(`${gw.adminUrl}/debug/route?path=/a`, { headers })).status, 200);
  const state = await send(`${gw.adminUrl}/api/state`, { headers });
  assert.equal(state.status, 200);
  assert.equal(state.json<{ services: { name: string }[] }>().services[0].name, 'a');
  assert.equal((await send(`${gw.adminUrl}/reload`, { method: 'POST', headers })).status, 200);
});

test('/health, /ready and the dashboard page (which holds no data) answer without a token', async () => {
  assert.equal((await send(`${gw.adminUrl}/health`)).status, 200);
  assert.equal((await send(`${gw.adminUrl}/ready`)).status, 200);
  const page = await send(`${gw.adminUrl}/`);
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /text\/html/);
  assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
  assert.doesNotMatch(page.body.toString(), new RegExp(upstream.url), 'no state in the page itself');
  assert.equal((await send(`${gw.adminUrl}/ui/app.js`)).status, 200);
});

test('validate warns when the admin listener leaves loopback without a token', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-admin-'));
  try {
    const file = join(dir, 'gateway.yaml');
    await writeFile(file, stringify({ ...BASE, admin: { host: '0.0.0.0' } }));
    const exposed = await runCli(['validate', '--config', file]);
    assert.equal(exposed.code, 0);
    assert.match(exposed.stderr, /warning: admin\.host is 0\.0\.0\.0 and admin\.token is not set/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('no warning on loopback or with a token; a short token is refused', () => {
  const warning = (config: Record<string, unknown>, env = {}) =>
    adminExposureWarning(parseConfig(stringify({ ...BASE, ...config }), 'gateway.yaml', env).config);
  assert.equal(warning({}), undefined, 'the default loopback listener needs no token');
  assert.equal(warning({ admin: { host: '::1' } }), undefined);
  assert.equal(warning({ admin: { host: '0.0.0.0' } }, { ADMIN_TOKEN: TOKEN }), undefined);
  assert.match(warning({ admin: { host: '10.0.0.5' } }) ?? '', /admin\.token is not set/);
  assert.throws(
    () => parseConfig(stringify(BASE), 'gateway.yaml', { ADMIN_TOKEN: 'short' }),
    /admin\.token: use at least 16 characters/,
  );
});
