// Route conditions, rewrites, redirects, header transforms and per-route timeouts,
// through a real gateway in front of real upstreams.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} are the gateway's header placeholders, not JavaScript templates
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let stable: TestUpstream;
let beta: TestUpstream;
let slow: TestUpstream;
let gw: TestGateway;

before(async () => {
  stable = await startUpstream();
  beta = await startUpstream();
  slow = await startUpstream((_req, res) => {
    setTimeout(() => res.end('late'), 1500).unref();
  });
  gw = await startTestGateway({
    services: {
      stable: { url: stable.url },
      beta: { url: beta.url },
      // The service allows 5 s; the route below allows 200 ms.
      slow: { url: slow.url, timeout: '5s', circuit_breaker: { min_requests: 100 } },
    },
    routes: [
      { path: '/orders', service: 'stable' },
      { path: '/orders', service: 'beta', match: { headers: { 'X-Canary': '1' } } },
      {
        path: '/orders',
        service: 'beta',
        match: { query: { beta: 'true' }, headers: { 'x-canary': { present: true } } },
      },
      { path: '/orders/search', service: 'beta', match: { query: { engine: 'new' } } },
      {
        path: '/api/v2',
        service: 'stable',
        rewrite: { regex: '^/api/v2/([^/]+)/(.*)$', replacement: '/v2/$2/of/$1' },
      },
      { path: '/dots', service: 'stable', rewrite: { regex: '^/dots/(.*)$', replacement: '/x/$1/..' } },
      {
        path: '/old',
        service: 'stable',
        rewrite: { regex: '^/old/(.*)$', replacement: '/$1' },
        redirect: { location: 'https://new.example.com/$1', status: 308 },
      },
      {
        path: '/transformed',
        service: 'stable',
        request_headers: {
          set: { 'X-Route': '${route}', 'X-Client': 'ip=${client_ip}' },
          add: { 'X-Tag': 'gw-${request_id}', 'X-Who': '${user_id}' },
          remove: ['X-Secret'],
        },
        response_headers: {
          set: { 'Cache-Control': 'no-store' },
          add: { 'X-Served-By': 'gatehouse ${route}' },
          remove: ['Server-Timing'],
        },
      },
      { path: '/slow', service: 'slow', timeout: '200ms' },
    ],
  });
});

after(async () => {
  await gw.close();
  await Promise.all([stable.close(), beta.close(), slow.close()]);
});

test('a header condition and a query condition choose between routes of one prefix', async () => {
  const before = { stable: stable.requests.length, beta: beta.requests.length };
  assert.equal((await send(`${gw.url}/orders/1`)).status, 200);
  assert.equal(stable.requests.length, before.stable + 1, 'no condition: the plain route');
  assert.equal((await send(`${gw.url}/orders/1`, { headers: { 'x-canary': '1' } })).status, 200);
  assert.equal(beta.requests.length, before.beta + 1, 'X-Canary: 1 picks the conditional route');
  await send(`${gw.url}/orders/1`, { headers: { 'x-canary': '2' } });
  assert.equal(stable.requests.length, before.stable + 2, 'another value does not meet the condition');
  await send(`${gw.url}/orders/1?beta=true`, { headers: { 'x-canary': '2' } });
  assert.equal(beta.requests.length, before.beta + 2, 'two conditions met: that route outranks the others');
  assert.equal(beta.requests.at(-1)?.url, '/orders/1?beta=true');
  await send(`${gw.url}/orders/search?engine=new`);
  assert.equal(beta.requests.length, before.beta + 3, 'the longer prefix with its query condition');
  await send(`${gw.url}/orders/search?engine=old`);
  assert.equal(
    stable.requests.length,
    before.stable + 3,
    'a failed condition falls back to the shorter prefix',
  );
});

test('a regex rewrite forwards its captures, and a rewrite that makes a dot segment is refused', async () => {
  const response = await send(`${gw.url}/api/v2/acme/orders/7?x=1`);
  assert.equal(response.status, 200);
  assert.equal(stable.requests.at(-1)?.url, '/v2/orders/7/of/acme?x=1');
  const count = stable.requests.length;
  const bad = await send(`${gw.url}/dots/a`);
  assert.equal(bad.status, 400);
  assert.equal(bad.json<{ error: { code: string } }>().error.code, 'BAD_REQUEST');
  assert.equal(stable.requests.length, count, 'nothing was forwarded');
});

test('a 308 redirect with a capture is answered by the gateway and never reaches the upstream', async () => {
  const count = stable.requests.length;
  const response = await send(`${gw.url}/old/docs/page?q=1`);
  assert.equal(response.status, 308);
  assert.equal(response.headers.location, 'https://new.example.com/docs/page');
  assert.ok(response.headers['x-request-id']);
  assert.equal(stable.requests.length, count);
});

test('request and response headers are set, added and removed, with placeholders', async () => {
  stable.setHandler((req, res) => {
    res.setHeader('server-timing', 'db;dur=1');
    res.setHeader('cache-control', 'max-age=60');
    res.setHeader('x-served-by', 'upstream');
    res.end(JSON.stringify(req.headers));
  });
  try {
    const response = await send(`${gw.url}/transformed/a`, {
      headers: { 'x-request-id': 'req-42', 'x-secret': 'hunter2', 'x-route': 'client-said' },
    });
    assert.equal(response.status, 200);
    const seen = stable.requests.at(-1)!.headers;
    assert.equal(seen['x-route'], '/transformed', 'set replaces the client value');
    assert.equal(seen['x-client'], 'ip=127.0.0.1');
    assert.equal(seen['x-tag'], 'gw-req-42');
    assert.equal(seen['x-who'], undefined, 'a value that renders empty (no user) is not sent');
    assert.equal(seen['x-secret'], undefined);
    assert.equal(response.headers['cache-control'], 'no-store');
    assert.deepEqual(response.headers['x-served-by'], ['upstream', 'gatehouse /transformed']);
    assert.equal(response.headers['server-timing'], undefined);
    assert.equal(response.headers['x-request-id'], 'req-42');
  } finally {
    stable.setHandler((req, res, body) =>
      res.end(JSON.stringify({ url: req.url, headers: req.headers, bodyLength: body.length })),
    );
  }
});

test("a route timeout shorter than its service's answers 504 at the route's deadline", async () => {
  // The upstream answers 200 after 1.5 s, within the service's 5 s: only the route's 200 ms makes a 504.
  const response = await send(`${gw.url}/slow`);
  assert.equal(response.status, 504);
  assert.equal(response.json<{ error: { code: string } }>().error.code, 'UPSTREAM_TIMEOUT');
});
