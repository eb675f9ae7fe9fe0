// GET/POST /debug/route: the route a described request would take, its normalized and
// forwarded path, its policies in order, and why every other route did not match.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RouteExplanation } from '../../src/admin/route-explainer.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let a: TestUpstream;
let b: TestUpstream;
let gw: TestGateway;

before(async () => {
  a = await startUpstream();
  b = await startUpstream();
  gw = await startTestGateway({
    services: { a: { url: a.url }, b: { url: b.url } },
    routes: [
      { path: '/api', service: 'a', strip_prefix: true },
      { path: '/api/users', service: 'b', methods: ['GET'] },
      { path: '/', service: 'a', host: 'internal.example.com' },
      { path: '/other', service: 'b' },
      { path: '/beta', service: 'b' },
      { path: '/beta', service: 'a', match: { headers: { 'x-canary': '1' }, query: { beta: 'true' } } },
    ],
    cors: { allowed_origins: ['https://app.example.com'] },
    rate_limit: { global: 1000, global_burst: 1000, per_client: 100, per_client_burst: 100 },
  });
});

after(async () => {
  await gw.close();
  await a.close();
  await b.close();
});

async function explain(query: string): Promise<RouteExplanation> {
  const response = await send(`${gw.adminUrl}/debug/route?${query}`);
  assert.equal(response.status, 200, response.body.toString());
  return response.json<RouteExplanation>();
}

test('names the matching route, its paths and policies, and why the others did not match', async () => {
  const result = await explain('method=GET&host=www.example.com&path=/api/users/./7?x=1&header.x-canary=1');
  assert.equal(result.outcome, 'forwarded');
  assert.equal(result.route, '/api/users');
  assert.equal(result.service, 'b');
  assert.equal(result.normalizedPath, '/api/users/7');
  assert.equal(result.forwardedPath, '/api/users/7?x=1');
  assert.deepEqual(result.policies, ['cors', 'rate_limit']);
  assert.deepEqual(result.request.headers, { 'x-canary': '1' });
  assert.deepEqual(
    result.instances.map((i) => i.origin),
    [b.url],
  );
  const why = Object.fromEntries(result.routes.map((r) => [r.route, r.matched ? 'matched' : r.reason]));
  assert.deepEqual(why, {
    '/api/users': 'matched',
    '/api': 'the longer prefix /api/users matched',
    '/': 'host "www.example.com" is not internal.example.com',
    '/other': 'path /api/users/7 is not under /other',
    '/beta': 'path /api/users/7 is not under /beta',
  });
});

test('agrees with the data plane: what it says is forwarded is what the upstream gets', async () => {
  const result = await explain('path=/api/orders/1');
  assert.equal(result.route, '/api');
  assert.equal(result.forwardedPath, '/orders/1', 'strip_prefix');
  assert.equal((await send(`${gw.url}/api/orders/1`)).status, 200);
  assert.equal(a.requests.at(-1)?.url, result.forwardedPath);
  const hosted = await explain('host=internal.example.com:8080&path=/api/x');
  assert.equal(hosted.route, '/', 'a route for the host wins over longer prefixes for any host');
  assert.match(
    hosted.routes.find((r) => r.route === '/api')?.reason ?? '',
    /route for host internal\.example\.com takes precedence/,
  );
});

test('route conditions: the failing one is named, and the route with more conditions wins', async () => {
  const plain = await explain('path=/beta/1?beta=true&header.x-canary=2');
  assert.equal(plain.service, 'b');
  assert.deepEqual(
    plain.routes.filter((r) => r.route === '/beta').map((r) => r.reason ?? 'matched'),
    ['matched', 'header x-canary is not "1"'],
  );
  const canary = await explain('path=/beta/1?beta=true&header.x-canary=1');
  assert.equal(canary.service, 'a');
  assert.deepEqual(
    canary.routes.filter((r) => r.route === '/beta').map((r) => r.reason ?? 'matched'),
    ['a route of the same prefix with more conditions matched', 'matched'],
  );
  const noQuery = await explain('path=/beta/1&header.x-canary=1');
  assert.equal(noQuery.routes.at(-1)?.reason, 'query parameter beta is missing');
});

test('says what the gateway would answer itself: 405, 404, 400', async () => {
  const post = await explain('method=POST&path=/api/users/7');
  assert.equal(post.outcome, 'method_not_allowed');
  assert.equal(post.status, 405);
  assert.equal(post.route, '/api/users');
  assert.match(post.message ?? '', /POST is not in the route's methods \(GET\)/);

  const none = await explain('host=www.example.com&path=/nothing');
  assert.equal(none.outcome, 'not_found');
  assert.equal(none.status, 404);
  assert.equal(
    none.routes.every((r) => !r.matched),
    true,
  );

  const bad = await explain(`path=${encodeURIComponent('/api/a%2Fb')}`);
  assert.equal(bad.outcome, 'bad_request');
  assert.equal(bad.status, 400);
});

test('accepts a POST body with headers, and refuses a malformed description with 400', async () => {
  const posted = await send(`${gw.adminUrl}/debug/route`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ method: 'GET', host: 'x.test', path: '/other/1', headers: { 'X-Canary': '1' } }),
  });
  assert.equal(posted.status, 200);
  assert.equal(posted.json<RouteExplanation>().route, '/other');

  for (const [query, problem] of [
    ['method=GET', /path is required/],
    ['method=get&path=/', /method must be an upper-case HTTP method/],
    ['path=/&header.bad%20name=1', /is not a header name/],
  ] as const) {
    const response = await send(`${gw.adminUrl}/debug/route?${query}`);
    assert.equal(response.status, 400, query);
    assert.match(response.json<{ error: { message: string } }>().error.message, problem);
  }
  const notJson = await send(`${gw.adminUrl}/debug/route`, { method: 'POST', body: '{nope' });
  assert.equal(notJson.status, 400);
});
