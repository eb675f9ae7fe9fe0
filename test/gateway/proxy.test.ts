// The core data plane through real sockets: a real gateway in front of real upstreams.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { rawExchange, send } from '../helpers/http.ts';
import { refusedPort, startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let upstream: TestUpstream;
let slow: TestUpstream;
let gw: TestGateway;

before(async () => {
  upstream = await startUpstream();
  slow = await startUpstream((_req, res) => {
    setTimeout(() => res.end('late'), 1500).unref();
  });
  gw = await startTestGateway({
    server: { body_limit: '2mb' },
    services: {
      echo: { url: upstream.url },
      slow: { url: slow.url, timeout: '300ms' },
      gone: { url: `http://127.0.0.1:${await refusedPort()}` },
    },
    routes: [
      { path: '/api/echo', service: 'echo', strip_prefix: true },
      { path: '/keep', service: 'echo' },
      { path: '/slow', service: 'slow' },
      { path: '/gone', service: 'gone' },
      { path: '/readonly', service: 'echo', methods: ['GET', 'HEAD'] },
    ],
  });
});

after(async () => {
  await gw.close();
  await upstream.close();
  await slow.close();
});

function lastUpstreamRequest() {
  return upstream.requests[upstream.requests.length - 1];
}

test('a 1 MiB body arrives byte-exact both ways', async () => {
  const payload = randomBytes(1024 * 1024);
  upstream.setHandler((_req, res, body) => res.end(body));
  try {
    const response = await send(`${gw.url}/api/echo/upload`, { method: 'POST', body: payload });
    assert.equal(response.status, 200);
    assert.equal(lastUpstreamRequest().body.length, payload.length);
    assert.equal(
      createHash('sha256').update(lastUpstreamRequest().body).digest('hex'),
      createHash('sha256').update(payload).digest('hex'),
    );
    assert.ok(response.body.equals(payload));
  } finally {
    upstream.setHandler((req, res, body) =>
      res.end(JSON.stringify({ url: req.url, headers: req.headers, bodyLength: body.length })),
    );
  }
});

test('strip_prefix, query strings and the gateway headers reach the upstream', async () => {
  const response = await send(`${gw.url}/api/echo/users/7?x=1&y=%2F`, {
    headers: {
      'x-request-id': 'client-id-1',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    },
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers['x-request-id'], 'client-id-1');
  const seen = lastUpstreamRequest();
  assert.equal(seen.url, '/users/7?x=1&y=%2F');
  assert.equal(seen.headers['x-request-id'], 'client-id-1');
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.equal(seen.headers['x-forwarded-host'], new URL(gw.url).host);
  assert.equal(seen.headers.host, new URL(upstream.url).host);
  const traceparent = String(seen.headers.traceparent);
  assert.match(traceparent, /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
  assert.notEqual(traceparent.split('-')[2], 'b7ad6b7169203331');
});

test('without strip_prefix the path is forwarded whole', async () => {
  await send(`${gw.url}/keep/a/b`);
  assert.equal(lastUpstreamRequest().url, '/keep/a/b');
});

test('a malformed or missing X-Request-ID is replaced by a generated one', async () => {
  const response = await send(`${gw.url}/keep`, { headers: { 'x-request-id': 'bad id with spaces' } });
  const id = String(response.headers['x-request-id']);
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.equal(lastUpstreamRequest().headers['x-request-id'], id);
  const tooLong = await send(`${gw.url}/keep`, { headers: { 'x-request-id': 'a'.repeat(129) } });
  assert.notEqual(tooLong.headers['x-request-id'], 'a'.repeat(129));
});

test('a header named in Connection never reaches the upstream, nor do hop-by-hop ones', async () => {
  const response = await rawExchange(
    gw.url,
    'GET /keep HTTP/1.1\r\nHost: gw\r\nConnection: keep-alive, X-Secret, X-Forwarded-For\r\nX-Secret: s3cr3t\r\nX-Forwarded-For: 6.6.6.6\r\nKeep-Alive: timeout=9\r\nTE: trailers\r\nX-Other: kept\r\n\r\n',
    500,
  );
  assert.match(response, /^HTTP\/1\.1 200/);
  const seen = lastUpstreamRequest();
  assert.equal(seen.headers['x-secret'], undefined);
  assert.equal(seen.headers['keep-alive'], undefined);
  assert.equal(seen.headers.te, undefined);
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen.headers['x-other'], 'kept');
});

test('client-sent identity headers are removed on every route', async () => {
  await rawExchange(
    gw.url,
    'GET /keep HTTP/1.1\r\nHost: gw\r\nX-User-ID: admin\r\nx-user-id: admin2\r\nX_User_Roles: root\r\nConnection: close\r\n\r\n',
    500,
  );
  const seen = lastUpstreamRequest();
  assert.deepEqual(
    seen.rawHeaders
      .filter((_, i) => i % 2 === 0)
      .filter((name) => name.toLowerCase().replaceAll('_', '-').startsWith('x-user')),
    [],
  );
});

test('an upstream slower than its timeout is answered 504 near the timeout', async () => {
  const started = performance.now();
  const response = await send(`${gw.url}/slow`);
  const elapsed = performance.now() - started;
  assert.equal(response.status, 504);
  assert.equal(response.json<{ error: { code: string } }>().error.code, 'UPSTREAM_TIMEOUT');
  assert.ok(elapsed >= 290 && elapsed < 900, `answered after ${elapsed} ms`);
});

test('a refused upstream is answered 502 in the JSON error format', async () => {
  const response = await send(`${gw.url}/gone`, { headers: { 'x-request-id': 'trace-me' } });
  assert.equal(response.status, 502);
  assert.deepEqual(response.json(), {
    error: {
      code: 'BAD_GATEWAY',
      message: 'The upstream service answered badly or not at all',
      request_id: 'trace-me',
    },
  });
});

test('no route is 404, a method outside the route is 405 with Allow', async () => {
  const missing = await send(`${gw.url}/nowhere`);
  assert.equal(missing.status, 404);
  assert.equal(missing.json<{ error: { code: string } }>().error.code, 'ROUTE_NOT_FOUND');
  const prefixOnly = await send(`${gw.url}/keepX`);
  assert.equal(prefixOnly.status, 404);
  const wrongMethod = await send(`${gw.url}/readonly`, { method: 'DELETE' });
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.allow, 'GET, HEAD');
  assert.equal(wrongMethod.json<{ error: { code: string } }>().error.code, 'METHOD_NOT_ALLOWED');
});

test('paths that try to escape their route are resolved or refused before matching', async () => {
  const escaped = await rawExchange(
    gw.url,
    'GET /keep/../api/echo/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n',
  );
  assert.match(escaped, /^HTTP\/1\.1 200/);
  assert.equal(lastUpstreamRequest().url, '/x');
  for (const target of [
    '/keep/..%2f..%2fetc/passwd',
    '/keep/%00',
    '/keep\\..\\x',
    '/../keep',
    'http://evil.example/keep',
    '/keep/..;/api',
  ]) {
    const answer = await rawExchange(
      gw.url,
      `GET ${target} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1\.1 400/, target);
    assert.match(answer, /"code":"BAD_REQUEST"/, target);
  }
});

test('a body over body_limit is 413: by Content-Length before forwarding, and mid-stream when chunked', async () => {
  const before = upstream.requests.length;
  const declared = await send(`${gw.url}/keep`, { method: 'POST', body: Buffer.alloc(3 * 1024 * 1024) });
  assert.equal(declared.status, 413);
  assert.equal(declared.json<{ error: { code: string } }>().error.code, 'PAYLOAD_TOO_LARGE');
  assert.equal(upstream.requests.length, before, 'nothing forwarded');

  let upstreamAborted = false;
  upstream.setHandler(() => {});
  upstream.server.once('request', (req) =>
    req.once('close', () => {
      upstreamAborted = !req.complete;
    }),
  );
  async function* chunks() {
    for (let i = 0; i < 48; i++) yield Buffer.alloc(64 * 1024, 1);
  }
  const streamed = await send(`${gw.url}/keep`, { method: 'POST', body: chunks() });
  assert.equal(streamed.status, 413);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.ok(upstreamAborted, 'the upstream request was aborted mid-stream');
  upstream.setHandler((req, res, body) =>
    res.end(JSON.stringify({ url: req.url, headers: req.headers, bodyLength: body.length })),
  );
});

test('request smuggling framing is refused with 400 and nothing reaches the upstream', async () => {
  const count = upstream.requests.length;
  const probes = [
    'POST /keep HTTP/1.1\r\nHost: gw\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /keep/smuggled HTTP/1.1\r\nHost: gw\r\n\r\n',
    'POST /keep HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n',
    'POST /keep HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n',
    'POST /keep HTTP/1.1\r\nHost: gw\r\nContent-Length: 3,2\r\n\r\nabc',
    'POST /keep HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\nContent-Length: 2\r\n\r\nabc',
    'POST /keep HTTP/1.1\r\nHost: gw\r\nContent-Length: -1\r\n\r\n',
    'POST /keep HTTP/1.1\r\nHost: gw\r\nContent-Length : 3\r\n\r\nabc',
    'GET /keep HTTP/1.1\r\nHost: gw\r\nX-Folded: a\r\n b\r\n\r\n',
    'GET /keep HTTP/1.1\nHost: gw\n\n',
  ];
  for (const probe of probes) {
    const answer = await rawExchange(gw.url, probe, 1000);
    assert.match(answer, /^HTTP\/1\.1 400/, JSON.stringify(probe));
    assert.doesNotMatch(answer, /HTTP\/1\.1 200/, JSON.stringify(probe));
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(upstream.requests.length, count, 'the upstream saw none of them');
});

test('headers over the limit are 431', async () => {
  const answer = await rawExchange(
    gw.url,
    `GET /keep HTTP/1.1\r\nHost: gw\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
  );
  assert.match(answer, /^HTTP\/1\.1 431/);
  assert.match(answer, /"code":"HEADERS_TOO_LARGE"/);
});

test('Expect: 100-continue works', async () => {
  const answer = await rawExchange(
    gw.url,
    'POST /keep HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\nhello',
  );
  assert.match(answer, /HTTP\/1\.1 200/);
  assert.equal(lastUpstreamRequest().body.toString(), 'hello');
});

test('a client that disconnects aborts its upstream request', async () => {
  let closedEarly = false;
  const aborted = new Promise<void>((resolve) => {
    slow.server.once('request', (_req, res) => {
      res.once('close', () => {
        closedEarly = !res.writableFinished;
        resolve();
      });
    });
  });
  const controller = new AbortController();
  const pending = fetch(`${gw.url}/slow`, { signal: controller.signal }).catch(() => 'aborted');
  await new Promise((resolve) => setTimeout(resolve, 100));
  controller.abort();
  assert.equal(await pending, 'aborted');
  await aborted;
  assert.ok(closedEarly);
});

test('health and readiness', async () => {
  const health = await send(`${gw.url}/health`);
  assert.equal(health.status, 200);
  assert.deepEqual(health.json(), { status: 'ok' });
  const ready = await send(`${gw.url}/ready`);
  assert.equal(ready.status, 200);
});

test('one access-log line per request with the documented fields, and no credentials', async () => {
  await send(`${gw.url}/api/echo/logged`, {
    headers: {
      'x-request-id': 'log-me',
      authorization: 'Bearer super-secret-token',
      cookie: 'session=also-secret',
    },
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const lines = gw.logs().filter((line) => line.request_id === 'log-me');
  assert.equal(lines.length, 1);
  const [line] = lines;
  for (const field of [
    'method',
    'path',
    'route',
    'service',
    'instance',
    'status',
    'duration_ms',
    'upstream_ms',
    'client_ip',
    'trace_id',
  ]) {
    assert.ok(line[field] !== undefined, `access log has ${field}`);
  }
  assert.equal(line.status, 200);
  assert.equal(line.route, '/api/echo');
  assert.equal(line.service, 'echo');
  const everything = JSON.stringify(gw.logs());
  assert.ok(!everything.includes('super-secret-token'));
  assert.ok(!everything.includes('also-secret'));
});
