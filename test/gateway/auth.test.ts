// Remote-mode authentication end to end: a real gateway between a real client, a real
// auth service (test/helpers/auth-stub.ts, counting its verify calls) and a real
// upstream (recording the exact headers it received). DESIGN.md "Auth" and
// HARDENING.md "Auth" / "Headers": 401 with a Bearer challenge and no upstream call,
// identity headers only from the verify answer, one verify call per token, 503
// AUTH_UNAVAILABLE within a bound whenever the auth service cannot decide.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { verificationBudgetMs } from '../../src/auth/retry-budget.ts';
import { type AuthStub, type AuthStubAnswer, startAuthStub } from '../helpers/auth-stub.ts';
import { metricValue, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { rawExchange, type SimpleResponse, send } from '../helpers/http.ts';
import { type RecordedRequest, startUpstream, type TestUpstream } from '../helpers/upstream.ts';

// The failure settings of the main gateway, and the longest a request may wait for
// the auth service with them (every attempt at its timeout plus every backoff at its
// largest), plus slack for a loaded CI machine.
const TIMEOUT_MS = 200;
const RETRIES = 2;
const FAIL_CLOSED_BOUND_MS = verificationBudgetMs(TIMEOUT_MS, RETRIES) + 2000;

let stub: AuthStub;
let upstream: TestUpstream;

before(async () => {
  [stub, upstream] = await Promise.all([startAuthStub(), startUpstream()]);
});

after(async () => {
  await Promise.all([stub.close(), upstream.close()]);
});

beforeEach(async () => {
  await stub.setMode('normal');
  stub.resetCalls();
});

/** A token the auth stub knows, unique to the caller, so no gateway has it cached yet. */
function newToken(
  answer: AuthStubAnswer = { user_id: 'alice', roles: ['admin', 'dev'] },
  status = 200,
): string {
  const token = `tok-${randomBytes(12).toString('hex')}`;
  stub.addToken(token, { exp: Math.floor(Date.now() / 1000) + 3600, ...answer }, status);
  return token;
}

/** A gateway in front of the upstream with one route per auth mode. */
function gatewayConfig(auth: Record<string, unknown>): Record<string, unknown> {
  return {
    services: { app: { url: upstream.url } },
    routes: [
      { path: '/secure', service: 'app', auth: 'required' },
      { path: '/maybe', service: 'app', auth: 'optional' },
      { path: '/open', service: 'app', auth: 'none' },
    ],
    auth: { mode: 'remote', verify_url: stub.verifyUrl, ...auth },
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly request_id: string };
}

function assertError(response: SimpleResponse, status: number, code: string): void {
  assert.equal(response.status, status, response.body.toString());
  assert.match(String(response.headers['content-type']), /^application\/json/);
  const body = response.json<ErrorBody>();
  assert.equal(body.error.code, code);
  assert.equal(body.error.request_id, response.headers['x-request-id']);
}

/** The identity-looking headers the upstream received, as [lower-cased name, value] pairs, duplicates kept. */
function identityHeaders(seen: RecordedRequest, names: readonly string[] = []): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i < seen.rawHeaders.length; i += 2) {
    const name = seen.rawHeaders[i].toLowerCase().replaceAll('_', '-');
    if (name.startsWith('x-user-') || names.includes(name)) pairs.push([name, seen.rawHeaders[i + 1]]);
  }
  return pairs.sort(([a], [b]) => a.localeCompare(b));
}

function lastUpstreamRequest(): RecordedRequest {
  return upstream.requests[upstream.requests.length - 1];
}

/** A raw request, so the client can send what a real client library would refuse (underscores, duplicates). */
async function rawGet(gw: TestGateway, path: string, headerLines: readonly string[]): Promise<string> {
  const head = [`GET ${path} HTTP/1.1`, 'Host: gw', ...headerLines, 'Connection: close', '', ''].join('\r\n');
  return rawExchange(gw.url, head);
}

/** Polls `read` until `done` holds or `withinMs` passes (then fails with the last value). */
async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
  withinMs = 3000,
): Promise<T> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (performance.now() > deadline)
      assert.fail(`${what}: still ${JSON.stringify(value)} after ${withinMs} ms`);
    await sleep(25);
  }
}

describe('remote mode through the gateway', () => {
  let gw: TestGateway;

  before(async () => {
    // A breaker that needs far more calls than this file makes, so it never cuts the
    // retries short: every attempt is visible in the stub's count.
    gw = await startTestGateway(
      gatewayConfig({
        timeout: `${TIMEOUT_MS}ms`,
        retries: RETRIES,
        circuit_breaker: { min_requests: 1000 },
      }),
    );
  });

  after(async () => {
    await gw.close();
  });

  describe('auth: required', () => {
    test('no token: 401 UNAUTHORIZED with a plain Bearer challenge; neither the auth service nor the upstream is called', async () => {
      const before = upstream.requests.length;
      for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }] as Record<string, string>[]) {
        const response = await send(`${gw.url}/secure/data`, { headers });
        assertError(response, 401, 'UNAUTHORIZED');
        assert.equal(response.headers['www-authenticate'], 'Bearer');
      }
      assert.equal(stub.calls, 0);
      assert.equal(upstream.requests.length, before);
    });

    test('a malformed bearer credential: 401 invalid_token without a verify call', async () => {
      const before = upstream.requests.length;
      for (const authorization of ['Bearer', 'Bearer two words', 'Bearer {"json":1}']) {
        const response = await send(`${gw.url}/secure`, { headers: { authorization } });
        assertError(response, 401, 'UNAUTHORIZED');
        assert.equal(response.headers['www-authenticate'], 'Bearer error="invalid_token"');
      }
      assert.equal(stub.calls, 0);
      assert.equal(upstream.requests.length, before);
    });

    test('a token the auth service refuses (401 or 403): 401 invalid_token, upstream never called, refusal cached', async (t) => {
      // Its own gateway with a timeout no loaded machine reaches: the call count below
      // must count verify answers, not retries after an attempt cut at 200 ms.
      const gw = await startTestGateway(
        gatewayConfig({ timeout: '10s', retries: RETRIES, circuit_breaker: { min_requests: 1000 } }),
      );
      t.after(() => gw.close());
      const before = upstream.requests.length;
      const forbidden = newToken({ error: 'suspended' }, 403);
      for (const token of ['unknown-token', forbidden]) {
        const response = await send(`${gw.url}/secure`, { headers: bearer(token) });
        assertError(response, 401, 'UNAUTHORIZED');
        assert.equal(response.headers['www-authenticate'], 'Bearer error="invalid_token"');
      }
      assert.equal(stub.calls, 2);
      // Asked again within negative_cache_ttl: answered from the cache.
      for (let i = 0; i < 5; i++)
        assert.equal((await send(`${gw.url}/secure`, { headers: bearer('unknown-token') })).status, 401);
      assert.equal(stub.calls, 2);
      assert.equal(upstream.requests.length, before);
    });

    test('a good token: the upstream gets X-User-ID and comma-joined X-User-Roles from the verify answer', async () => {
      const token = newToken({ user_id: 'alice', roles: ['admin', 'dev', 'ops'] });
      const response = await send(`${gw.url}/secure/orders?id=7`, {
        headers: { ...bearer(token), 'x-request-id': 'e2e-auth-1' },
      });
      assert.equal(response.status, 200, response.body.toString());
      assert.equal(response.headers['x-request-id'], 'e2e-auth-1');
      const seen = lastUpstreamRequest();
      assert.equal(seen.url, '/secure/orders?id=7');
      assert.deepEqual(identityHeaders(seen), [
        ['x-user-id', 'alice'],
        ['x-user-roles', 'admin,dev,ops'],
      ]);
      // What the auth service was sent: the client's Authorization and the request id.
      assert.equal(stub.calls, 1);
      const [verify] = stub.requests;
      assert.equal(verify.method, 'GET');
      assert.equal(verify.url, '/auth/verify');
      assert.equal(verify.headers.authorization, `Bearer ${token}`);
      assert.equal(verify.headers['x-request-id'], 'e2e-auth-1');
    });

    test('without a client X-Request-ID, the auth service gets the generated one the client and upstream see', async () => {
      const token = newToken({ user_id: 'bob' });
      const response = await send(`${gw.url}/secure`, { headers: bearer(token) });
      assert.equal(response.status, 200);
      const id = String(response.headers['x-request-id']);
      assert.match(id, /^[0-9a-f-]{36}$/);
      assert.equal(stub.requests[0].headers['x-request-id'], id);
      assert.equal(lastUpstreamRequest().headers['x-request-id'], id);
      // No roles in the answer: an empty roles header, never a client's.
      assert.deepEqual(identityHeaders(lastUpstreamRequest()), [
        ['x-user-id', 'bob'],
        ['x-user-roles', ''],
      ]);
    });

    test('spoofed identity headers are replaced by the verified ones: exactly one of each upstream', async () => {
      const token = newToken({ user_id: 'alice', roles: ['reader'] });
      const response = await rawGet(gw, '/secure', [
        `Authorization: Bearer ${token}`,
        'X-User-ID: admin',
        'x-user-id: root',
        'X_User_ID: mallory',
        'x-user-roles: superuser',
        'X_USER_ROLES: god',
        'X-User-Email: admin@example.com',
      ]);
      assert.match(response, /^HTTP\/1\.1 200 /);
      assert.deepEqual(identityHeaders(lastUpstreamRequest()), [
        ['x-user-id', 'alice'],
        ['x-user-roles', 'reader'],
      ]);
    });

    // Regression: Node keeps only the first Authorization in req.headers (the one
    // verified) but the raw headers, forwarded upstream, held both, so the upstream
    // could read a second credential nobody had checked.
    test('two Authorization fields: 401 invalid_token, no verify call, upstream never called', async () => {
      const token = newToken({ user_id: 'alice' });
      const before = upstream.requests.length;
      for (const [path, lines] of [
        ['/secure', [`Authorization: Bearer ${token}`, 'authorization: Bearer forged']],
        ['/maybe', [`Authorization: Bearer ${token}`, 'Authorization: Bearer forged']],
        // Optional route: an empty first field must not make the request anonymous.
        ['/maybe', ['Authorization: ', 'Authorization: Bearer forged']],
      ] as const) {
        const response = await rawGet(gw, path, lines);
        assert.match(response, /^HTTP\/1\.1 401 /, `${path} ${lines.join(' | ')}`);
        assert.match(response, /\r\nwww-authenticate: Bearer error="invalid_token"\r\n/i);
      }
      assert.equal(stub.calls, 0);
      assert.equal(upstream.requests.length, before);
    });

    test('50 sequential requests with one token make exactly one verify call', async () => {
      const token = newToken({ user_id: 'carol', roles: ['dev'] });
      const before = upstream.requests.length;
      for (let i = 0; i < 50; i++) {
        const response = await send(`${gw.url}/secure/${i}`, { headers: bearer(token) });
        assert.equal(response.status, 200);
      }
      assert.equal(stub.calls, 1);
      const forwarded = upstream.requests.slice(before);
      assert.equal(forwarded.length, 50);
      assert.ok(forwarded.every((seen) => seen.headers['x-user-id'] === 'carol'));
    });

    test('20 concurrent requests with a new token make exactly one verify call', async () => {
      const token = newToken({ user_id: 'dave', roles: ['dev'] });
      const before = upstream.requests.length;
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) => send(`${gw.url}/secure/${i}`, { headers: bearer(token) })),
      );
      assert.deepEqual(
        responses.map((response) => response.status),
        Array(20).fill(200),
      );
      assert.equal(stub.calls, 1);
      const forwarded = upstream.requests.slice(before);
      assert.equal(forwarded.length, 20);
      assert.ok(
        forwarded.every(
          (seen) => seen.headers['x-user-id'] === 'dave' && seen.headers['x-user-roles'] === 'dev',
        ),
      );
    });

    test('a 401 is counted in gatehouse_requests_total with status 401', async () => {
      const labels = { route: '/secure', method: 'GET', status: '401' };
      const before = await metricValue(gw, 'gatehouse_requests_total', labels);
      assertError(await send(`${gw.url}/secure`), 401, 'UNAUTHORIZED');
      assertError(
        await send(`${gw.url}/secure`, { headers: bearer('unknown-token-2') }),
        401,
        'UNAUTHORIZED',
      );
      // The counter is updated as the response ends, which may be just after the client has it.
      await eventually(
        () => metricValue(gw, 'gatehouse_requests_total', labels),
        (value) => value === before + 2,
        'gatehouse_requests_total{status="401"}',
      );
    });
  });

  describe('auth: none', () => {
    test('client identity headers are removed, and a token is neither verified nor turned into an identity', async () => {
      const token = newToken({ user_id: 'alice', roles: ['admin'] });
      const response = await rawGet(gw, '/open/x', [
        `Authorization: Bearer ${token}`,
        'X-User-ID: admin',
        'x-user-id: root',
        'X_User_ID: mallory',
        'x-user-roles: superuser',
        'X-USER-ROLES: god',
      ]);
      assert.match(response, /^HTTP\/1\.1 200 /);
      assert.deepEqual(identityHeaders(lastUpstreamRequest()), []);
      assert.equal(stub.calls, 0);
    });
  });

  describe('auth: optional', () => {
    test('no token: forwarded anonymously, without identity headers (client copies removed) and without a verify call', async () => {
      const before = upstream.requests.length;
      const response = await rawGet(gw, '/maybe', ['X-User-ID: admin', 'X_User_Roles: admin']);
      assert.match(response, /^HTTP\/1\.1 200 /);
      assert.equal(upstream.requests.length, before + 1);
      assert.deepEqual(identityHeaders(lastUpstreamRequest()), []);
      assert.equal(stub.calls, 0);
    });

    test('a good token: forwarded with the identity headers', async () => {
      const token = newToken({ user_id: 'erin', roles: ['reader', 'writer'] });
      const response = await send(`${gw.url}/maybe`, { headers: { ...bearer(token), 'x-user-id': 'admin' } });
      assert.equal(response.status, 200);
      assert.deepEqual(identityHeaders(lastUpstreamRequest()), [
        ['x-user-id', 'erin'],
        ['x-user-roles', 'reader,writer'],
      ]);
      assert.equal(stub.calls, 1);
    });

    test('a bad token: 401, not an anonymous pass; upstream never called', async () => {
      const before = upstream.requests.length;
      const response = await send(`${gw.url}/maybe`, { headers: bearer('not-a-known-token') });
      assertError(response, 401, 'UNAUTHORIZED');
      assert.equal(response.headers['www-authenticate'], 'Bearer error="invalid_token"');
      assert.equal(stub.calls, 1);
      assert.equal(upstream.requests.length, before);
    });

    test('a token while the auth service fails: 503, not an anonymous pass', async () => {
      const before = upstream.requests.length;
      const token = newToken();
      await stub.setMode('error');
      const response = await send(`${gw.url}/maybe`, { headers: bearer(token) });
      assertError(response, 503, 'AUTH_UNAVAILABLE');
      assert.equal(stub.calls, RETRIES + 1);
      assert.equal(upstream.requests.length, before);
    });
  });

  describe('the auth service cannot decide: 503 AUTH_UNAVAILABLE, never fail open', () => {
    /** Sends one request with a good token, and checks the fail-closed answer and its bound. */
    async function failsClosed(): Promise<void> {
      const before = upstream.requests.length;
      const started = performance.now();
      const response = await send(`${gw.url}/secure`, { headers: bearer(goodToken) });
      const elapsed = performance.now() - started;
      assertError(response, 503, 'AUTH_UNAVAILABLE');
      assert.equal(response.headers['www-authenticate'], undefined);
      assert.ok(
        elapsed < FAIL_CLOSED_BOUND_MS,
        `answered after ${Math.round(elapsed)} ms, bound ${FAIL_CLOSED_BOUND_MS} ms`,
      );
      assert.equal(upstream.requests.length, before, 'the upstream is never called');
    }

    let goodToken: string;
    before(() => {
      // Valid for the auth service, never cached by the gateway: no attempt succeeds.
      goodToken = newToken({ user_id: 'frank', roles: ['admin'] });
    });

    test('answering 500: retries+1 calls, then 503 within the bound', async () => {
      await stub.setMode('error');
      await failsClosed();
      assert.equal(stub.calls, RETRIES + 1);
    });

    test('hanging: each attempt cut at the timeout, retries+1 calls, 503 within the bound', async () => {
      await stub.setMode('hang');
      await failsClosed();
      assert.equal(stub.calls, RETRIES + 1);
    });

    test('down (connection refused): retries+1 attempts, 503 within the bound', async () => {
      const labels = { result: 'error' };
      const errorsBefore = await metricValue(gw, 'gatehouse_auth_verify_calls_total', labels);
      await stub.setMode('down');
      await failsClosed();
      // Nothing listens, so the attempts show in the gateway's own count of verify calls.
      assert.equal(
        await metricValue(gw, 'gatehouse_auth_verify_calls_total', labels),
        errorsBefore + RETRIES + 1,
      );
    });

    test('answering 2xx garbage: 503 at once, not retried', async () => {
      await stub.setMode('garbage');
      await failsClosed();
      assert.equal(stub.calls, 1);
    });

    test('failures are not cached: once the auth service is back, the same token passes', async () => {
      const response = await send(`${gw.url}/secure`, { headers: bearer(goodToken) });
      assert.equal(response.status, 200);
      assert.equal(lastUpstreamRequest().headers['x-user-id'], 'frank');
      assert.equal(stub.calls, 1);
    });
  });
});

describe('max_calls_per_second protects the auth service', () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startTestGateway(gatewayConfig({ max_calls_per_second: 1, retries: 0 }));
  });

  after(async () => {
    await gw.close();
  });

  test('once the calls are spent, new tokens get 503 at once without a call; cached tokens still pass', async () => {
    const before = upstream.requests.length;
    const first = newToken({ user_id: 'gina' });
    const started = performance.now();
    assert.equal((await send(`${gw.url}/secure`, { headers: bearer(first) })).status, 200);
    assert.equal(stub.calls, 1);

    const responses = await Promise.all(
      Array.from({ length: 5 }, () => send(`${gw.url}/secure`, { headers: bearer(newToken()) })),
    );
    const elapsed = performance.now() - started;
    const refused = responses.filter((response) => response.status === 503);
    const passed = responses.filter((response) => response.status === 200);
    for (const response of refused) {
      assertError(response, 503, 'AUTH_UNAVAILABLE');
      assert.equal(response.headers['retry-after'], '1', 'the next call is at most a second away');
    }
    assert.equal(refused.length + passed.length, 5);
    // One call a second: only a machine stalled past a whole second may have earned another.
    assert.ok(
      passed.length <= Math.floor(elapsed / 1000),
      `${passed.length} of 5 passed ${Math.round(elapsed)} ms after the bucket was emptied`,
    );
    assert.equal(stub.calls, 1 + passed.length, 'a refused verification makes no call');
    assert.equal(
      await metricValue(gw, 'gatehouse_auth_verify_calls_total', { result: 'rate_limited' }),
      refused.length,
    );

    // A token already verified needs no call, so it is not limited.
    assert.equal((await send(`${gw.url}/secure`, { headers: bearer(first) })).status, 200);
    assert.equal(upstream.requests.length, before + 2 + passed.length);

    // The bucket refills: a new token passes again within a few seconds.
    const later = newToken({ user_id: 'hank' });
    await eventually(
      () => send(`${gw.url}/secure`, { headers: bearer(later) }).then((response) => response.status),
      (status) => status === 200,
      'a new token after the refill',
      5000,
    );
    assert.equal(lastUpstreamRequest().headers['x-user-id'], 'hank');
  });
});

describe('failed_per_client: one address locks out only itself', () => {
  let gw: TestGateway;
  const SHARE = 2;
  const TOTAL = 10;
  // Loopback is a trusted proxy, so X-Forwarded-For names the client: distinct
  // addresses from one test process.
  const from = (address: string) => ({ 'x-forwarded-for': address });

  before(async () => {
    gw = await startTestGateway({
      ...gatewayConfig({ max_calls_per_second: TOTAL, failed_per_client: SHARE, retries: 0 }),
      server: { trusted_proxies: ['127.0.0.1/32', '::1/128'] },
    });
  });

  after(async () => {
    await gw.close();
  });

  test('random tokens from one address: 429 with Retry-After after its share, another client still verifies', async () => {
    const attacker = from('203.0.113.66');
    const started = performance.now();
    // Six times the whole call budget in one burst: without a share per address this
    // spends max_calls_per_second and every other new token gets 503.
    const responses = await Promise.all(
      Array.from({ length: TOTAL * 6 }, () =>
        send(`${gw.url}/secure`, {
          headers: { ...attacker, ...bearer(`random-${randomBytes(8).toString('hex')}`) },
        }),
      ),
    );
    const elapsed = performance.now() - started;
    const attackerCalls = stub.calls;
    const limited = responses.filter((response) => response.status === 429);
    const refused = responses.filter((response) => response.status === 401);
    assert.equal(limited.length + refused.length, responses.length, 'only 401 and 429');
    for (const response of limited) {
      assertError(response, 429, 'RATE_LIMITED');
      assert.ok(Number(response.headers['retry-after']) >= 1, 'Retry-After in whole seconds');
    }
    // The share is a bucket of SHARE a second: what it may have refilled while the burst ran, no more.
    const bound = SHARE + Math.floor((SHARE * elapsed) / 1000);
    assert.ok(
      refused.length >= 1 && refused.length <= bound,
      `${refused.length} verified refusals, bound ${bound}`,
    );
    assert.equal(attackerCalls, refused.length, 'a 429 makes no verify call');
    assert.equal(
      await metricValue(gw, 'gatehouse_auth_verify_calls_total', { result: 'client_limited' }),
      limited.length,
    );

    // Another client's new token still verifies: the attacker spent its own share only.
    for (const address of ['198.51.100.7', '198.51.100.8']) {
      const good = newToken({ user_id: `user-${address}` });
      const response = await send(`${gw.url}/secure`, { headers: { ...from(address), ...bearer(good) } });
      assert.equal(response.status, 200, response.body.toString());
      assert.equal(lastUpstreamRequest().headers['x-user-id'], `user-${address}`);
    }
    assert.equal(stub.calls, attackerCalls + 2);

    // The attacker is still refused without a call while its share is spent.
    const again = await send(`${gw.url}/secure`, { headers: { ...attacker, ...bearer('random-again') } });
    if (again.status === 429) assert.equal(stub.calls, attackerCalls + 2);
  });

  test('many addresses together are still bounded by max_calls_per_second', async () => {
    const started = performance.now();
    const responses = await Promise.all(
      Array.from({ length: TOTAL * 4 }, (_, i) =>
        send(`${gw.url}/secure`, {
          headers: { ...from(`192.0.2.${i + 1}`), ...bearer(`random-${randomBytes(8).toString('hex')}`) },
        }),
      ),
    );
    const elapsed = performance.now() - started;
    const statuses = new Set(responses.map((response) => response.status));
    assert.ok(statuses.has(503), 'the shared budget refused some with 503');
    for (const status of statuses) assert.ok(status === 401 || status === 503, `status ${status}`);
    const bound = TOTAL + Math.floor((TOTAL * elapsed) / 1000);
    assert.ok(stub.calls <= bound, `${stub.calls} verify calls, bound ${bound}`);
  });
});

describe('the auth service breaker', () => {
  let gw: TestGateway;

  before(async () => {
    // The default breaker (3 requests, 60% failures, open for 30 s).
    gw = await startTestGateway(gatewayConfig({ timeout: `${TIMEOUT_MS}ms`, retries: RETRIES }));
  });

  after(async () => {
    await gw.close();
  });

  test('trips on 500s, then answers 503 at once without calling the auth service', async () => {
    const before = upstream.requests.length;
    const token = newToken({ user_id: 'ivan' });
    await stub.setMode('error');
    assertError(await send(`${gw.url}/secure`, { headers: bearer(token) }), 503, 'AUTH_UNAVAILABLE');
    assert.equal(stub.calls, 3, 'three failed attempts trip the default breaker');
    assert.ok(
      gw
        .logs()
        .some((line) => line.msg === 'auth service circuit breaker changed state' && line.to === 'open'),
      'the breaker opening is logged',
    );

    // The auth service has recovered, but the open breaker does not ask it.
    await stub.setMode('normal');
    for (const attempt of [token, newToken(), newToken()]) {
      const started = performance.now();
      const response = await send(`${gw.url}/secure`, { headers: bearer(attempt) });
      const elapsed = performance.now() - started;
      assertError(response, 503, 'AUTH_UNAVAILABLE');
      assert.ok(elapsed < FAIL_CLOSED_BOUND_MS, `answered after ${Math.round(elapsed)} ms`);
      // The breaker's open time (30 s by default) tells the client when to come back.
      const retryAfter = Number(response.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 30, `Retry-After: ${response.headers['retry-after']}`);
    }
    assert.equal(stub.calls, 3, 'no call while the breaker is open');
    assert.equal(await metricValue(gw, 'gatehouse_auth_verify_calls_total', { result: 'circuit_open' }), 3);
    // A request without a token still gets its 401: the breaker guards calls, not parsing.
    assertError(await send(`${gw.url}/secure`), 401, 'UNAUTHORIZED');
    assert.equal(upstream.requests.length, before);
  });
});

describe('configured identity header names', () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startTestGateway(
      gatewayConfig({ user_id_header: 'X-Auth-User', roles_header: 'X-Auth-Roles' }),
    );
  });

  after(async () => {
    await gw.close();
  });

  const configured = ['x-auth-user', 'x-auth-roles'];

  test('the verified identity travels in the configured headers; client copies of them are replaced', async () => {
    const token = newToken({ user_id: 'judy', roles: ['billing', 'support'] });
    const response = await rawGet(gw, '/secure', [
      `Authorization: Bearer ${token}`,
      'X-Auth-User: admin',
      'x_auth_user: root',
      'X-AUTH-ROLES: superuser',
      'X-User-ID: mallory',
    ]);
    assert.match(response, /^HTTP\/1\.1 200 /);
    const seen = lastUpstreamRequest();
    assert.deepEqual(identityHeaders(seen, configured), [
      ['x-auth-roles', 'billing,support'],
      ['x-auth-user', 'judy'],
    ]);
    // The raw names are the configured spelling.
    assert.ok(seen.rawHeaders.includes('X-Auth-User'));
    assert.ok(seen.rawHeaders.includes('X-Auth-Roles'));
  });

  test('on an auth: none route, client copies of the configured names are removed too', async () => {
    const response = await rawGet(gw, '/open', [
      'X-Auth-User: admin',
      'x_auth_roles: superuser',
      'X-User-Roles: admin',
    ]);
    assert.match(response, /^HTTP\/1\.1 200 /);
    assert.deepEqual(identityHeaders(lastUpstreamRequest(), configured), []);
    assert.equal(stub.calls, 0);
  });
});
