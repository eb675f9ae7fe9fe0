// CORS through a real gateway: preflights answered at the edge, origins matched exactly.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let upstream: TestUpstream;
let gw: TestGateway;
let credentialed: TestGateway;

before(async () => {
  upstream = await startUpstream();
  const base = {
    services: { api: { url: upstream.url } },
    routes: [{ path: '/api', service: 'api', methods: ['GET', 'POST'] }],
  };
  gw = await startTestGateway({
    ...base,
    cors: { allowed_origins: ['https://app.example', 'https://*.tenant.example'] },
  });
  credentialed = await startTestGateway({
    ...base,
    cors: { allowed_origins: ['https://app.example'], allow_credentials: true },
  });
});

after(async () => {
  await gw.close();
  await credentialed.close();
  await upstream.close();
});

const preflight = (origin: string, method = 'POST') => ({
  method: 'OPTIONS',
  headers: {
    origin,
    'access-control-request-method': method,
    'access-control-request-headers': 'authorization',
  },
});

test('a preflight from an allowed origin is answered by the gateway and never reaches the upstream', async () => {
  const before = upstream.requests.length;
  const response = await send(`${gw.url}/api/items`, preflight('https://app.example'));
  assert.equal(response.status, 204);
  assert.equal(response.headers['access-control-allow-origin'], 'https://app.example');
  assert.match(String(response.headers['access-control-allow-methods']), /POST/);
  assert.match(String(response.headers['access-control-allow-headers']), /Authorization/);
  assert.equal(response.headers['access-control-max-age'], '600');
  assert.match(String(response.headers.vary), /Origin/);
  assert.equal(upstream.requests.length, before);
});

test('a preflight passes the route method check by the method it asks for', async () => {
  const response = await send(`${gw.url}/api/items`, preflight('https://app.example', 'GET'));
  assert.equal(response.status, 204);
});

test('anchored matching: lookalike origins get no CORS headers', async () => {
  for (const origin of [
    'https://app.example.evil',
    'https://evilapp.example',
    'http://app.example',
    'https://tenant.example',
    'https://a.b/.tenant.example',
  ]) {
    const response = await send(`${gw.url}/api/items`, preflight(origin));
    assert.equal(response.headers['access-control-allow-origin'], undefined, origin);
  }
  const sub = await send(`${gw.url}/api/items`, preflight('https://shop.tenant.example'));
  assert.equal(sub.headers['access-control-allow-origin'], 'https://shop.tenant.example');
});

test('simple requests get the allow and expose headers; errors carry them too', async () => {
  const ok = await send(`${gw.url}/api/items`, { headers: { origin: 'https://app.example' } });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example');
  assert.match(String(ok.headers['access-control-expose-headers']), /X-Request-ID/);
  assert.equal(ok.headers['access-control-allow-credentials'], undefined);
  const refused = await send(`${gw.url}/api/items`, {
    method: 'DELETE',
    headers: { origin: 'https://app.example' },
  });
  assert.equal(refused.status, 405);
  assert.equal(
    refused.headers['access-control-allow-origin'],
    undefined,
    'the method check runs before CORS for non-preflights',
  );
});

test('with credentials the exact origin is echoed, never *', async () => {
  const response = await send(`${credentialed.url}/api/items`, {
    headers: { origin: 'https://app.example' },
  });
  assert.equal(response.headers['access-control-allow-origin'], 'https://app.example');
  assert.equal(response.headers['access-control-allow-credentials'], 'true');
  const other = await send(`${credentialed.url}/api/items`, { headers: { origin: 'https://other.example' } });
  assert.equal(other.headers['access-control-allow-origin'], undefined);
});
