// Remote mode through a real auth service (test/helpers/auth-stub.ts) on a real socket.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { type Authenticator, createAuthenticator } from '../../src/auth/authenticator.ts';
import type { AuthConfig } from '../../src/config/schema.ts';
import type { GatewayError } from '../../src/errors.ts';
import { type AuthStub, startAuthStub } from '../helpers/auth-stub.ts';
import { type FakeClock, fakeClock } from '../helpers/clock.ts';
import { captureLogger } from '../helpers/logs.ts';
import { authConfig, noJitter, rejection } from './support.ts';

let stub: AuthStub;
const open: Authenticator[] = [];

before(async () => {
  stub = await startAuthStub();
});
after(async () => {
  await stub.close();
});
beforeEach(async () => {
  await Promise.all(open.splice(0).map((authenticator) => authenticator.destroy()));
  await stub.setMode('normal');
  stub.resetCalls();
});

interface Setup {
  readonly auth: Authenticator;
  readonly time: FakeClock;
  readonly lines: Record<string, unknown>[];
  readonly calls: string[];
  readonly config: AuthConfig;
}

function setup(settings: Record<string, unknown> = {}): Setup {
  const time = fakeClock();
  const { logger, lines } = captureLogger();
  const calls: string[] = [];
  const config = authConfig({ mode: 'remote', verify_url: stub.verifyUrl, ...settings });
  const auth = createAuthenticator(config, {
    logger,
    clock: time.clock,
    random: noJitter,
    onVerifyCall: (result) => calls.push(result),
  });
  open.push(auth);
  return { auth, time, lines, calls, config };
}

const inAnHour = () => Math.floor(Date.UTC(2024, 0, 1) / 1000) + 3600;

describe('answers', () => {
  test('a missing token is a 401 with a plain Bearer challenge, and no call', async () => {
    const { auth } = setup();
    for (const header of [undefined, '', 'Basic dXNlcjpwYXNz']) {
      const error = await rejection(auth.authenticate(header), 'UNAUTHORIZED');
      assert.equal(error.status, 401);
      assert.deepEqual(error.headers, { 'www-authenticate': 'Bearer' });
      assert.equal(error.message, 'Missing or invalid credentials');
    }
    assert.equal(stub.calls, 0);
  });

  test('a malformed bearer credential is a 401 invalid_token, and no call', async () => {
    const { auth } = setup();
    for (const header of ['Bearer', 'Bearer a b', 'Bearer a\u0001b']) {
      const error = await rejection(auth.authenticate(header), 'UNAUTHORIZED');
      assert.deepEqual(error.headers, { 'www-authenticate': 'Bearer error="invalid_token"' });
    }
    assert.equal(stub.calls, 0);
  });

  test('a token the auth service refuses is a 401 invalid_token, after one call', async () => {
    const { auth } = setup();
    const error = await rejection(auth.authenticate('Bearer nope'), 'UNAUTHORIZED');
    assert.deepEqual(error.headers, { 'www-authenticate': 'Bearer error="invalid_token"' });
    assert.equal(stub.calls, 1);
  });

  test('403 is a refusal too', async () => {
    const { auth } = setup();
    stub.addToken('forbidden', { error: 'no' }, 403);
    await rejection(auth.authenticate('Bearer forbidden'), 'UNAUTHORIZED');
    assert.equal(stub.calls, 1);
  });

  test('a valid token yields the identity; only Authorization and X-Request-ID are sent', async () => {
    const { auth, calls } = setup();
    stub.addToken('good', { user_id: 'alice', roles: ['admin', 'dev'], exp: inAnHour() });
    const identity = await auth.authenticate('Bearer good', 'req-123');
    assert.deepEqual(identity, { userId: 'alice', roles: ['admin', 'dev'] });
    assert.equal(stub.calls, 1);
    const [sent] = stub.requests;
    assert.equal(sent.method, 'GET');
    assert.equal(sent.url, '/auth/verify');
    assert.equal(sent.headers.authorization, 'Bearer good');
    assert.equal(sent.headers['x-request-id'], 'req-123');
    const unexpected = Object.keys(sent.headers).filter(
      (name) => !['authorization', 'x-request-id', 'accept', 'host', 'connection'].includes(name),
    );
    assert.deepEqual(unexpected, []);
    assert.deepEqual(calls, ['valid']);
  });

  test('user_id falls back to user_id_claim, roles to roles_claim', async () => {
    const { auth } = setup({ user_id_claim: 'uid', roles_claim: 'groups' });
    stub.addToken('claims', { uid: 'bob', groups: ['ops'] });
    assert.deepEqual(await auth.authenticate('Bearer claims'), { userId: 'bob', roles: ['ops'] });
    stub.addToken('plain', { sub: 'ignored', user_id: 7 });
    assert.deepEqual(await auth.authenticate('Bearer plain'), { userId: '7', roles: [] });
  });
});

describe('cache and single-flight', () => {
  test('50 sequential requests with one token make one call', async () => {
    const { auth } = setup();
    stub.addToken('hot', { user_id: 'alice', exp: inAnHour() });
    for (let i = 0; i < 50; i++) assert.equal((await auth.authenticate('Bearer hot')).userId, 'alice');
    assert.equal(stub.calls, 1);
  });

  test('20 concurrent requests with a new token make one call', async () => {
    const { auth } = setup();
    stub.addToken('fresh', { user_id: 'carol' });
    const identities = await Promise.all(Array.from({ length: 20 }, () => auth.authenticate('Bearer fresh')));
    assert.ok(identities.every((identity) => identity.userId === 'carol'));
    assert.equal(stub.calls, 1);
  });

  test('20 concurrent requests with a bad token make one call, and all get 401', async () => {
    const { auth } = setup();
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => auth.authenticate('Bearer bad-burst')),
    );
    assert.ok(
      results.every((r) => r.status === 'rejected' && (r.reason as GatewayError).code === 'UNAUTHORIZED'),
    );
    assert.equal(stub.calls, 1);
  });

  test('a bad token is remembered for negative_cache_ttl', async () => {
    const { auth, time } = setup({ negative_cache_ttl: '10s' });
    for (let i = 0; i < 30; i++) await rejection(auth.authenticate('Bearer flood'), 'UNAUTHORIZED');
    assert.equal(stub.calls, 1);
    time.advance(10_000);
    await rejection(auth.authenticate('Bearer flood'), 'UNAUTHORIZED');
    assert.equal(stub.calls, 2);
  });

  test('a token is asked about again once its exp has passed', async () => {
    const { auth, time } = setup({ cache_ttl: '5m' });
    const exp = Math.floor(time.now / 1000) + 30;
    stub.addToken('short', { user_id: 'dave', exp });
    await auth.authenticate('Bearer short');
    time.advance(29_000);
    await auth.authenticate('Bearer short');
    assert.equal(stub.calls, 1, 'still cached before exp');
    time.advance(1_000);
    stub.removeToken('short');
    await rejection(auth.authenticate('Bearer short'), 'UNAUTHORIZED');
    assert.equal(stub.calls, 2, 'asked again at exp');
  });

  test('cache_ttl bounds a far exp', async () => {
    const { auth, time } = setup({ cache_ttl: '1m' });
    stub.addToken('long', { user_id: 'erin', exp: inAnHour() });
    await auth.authenticate('Bearer long');
    time.advance(59_999);
    await auth.authenticate('Bearer long');
    assert.equal(stub.calls, 1);
    time.advance(1);
    await auth.authenticate('Bearer long');
    assert.equal(stub.calls, 2);
  });

  test('an answer whose exp has already passed is used once, not cached', async () => {
    const { auth, time } = setup();
    stub.addToken('stale', { user_id: 'frank', exp: Math.floor(time.now / 1000) - 10 });
    await auth.authenticate('Bearer stale');
    await auth.authenticate('Bearer stale');
    assert.equal(stub.calls, 2);
  });
});

describe('failures: never fail open', () => {
  test('auth service answering 500: retries+1 calls, then AUTH_UNAVAILABLE', async () => {
    // A breaker that needs more than four calls, so it does not cut the retries short.
    const { auth, calls, lines } = setup({ retries: 3, circuit_breaker: { min_requests: 10 } });
    stub.addToken('good', { user_id: 'alice' });
    await stub.setMode('error');
    const error = await rejection(auth.authenticate('Bearer good'), 'AUTH_UNAVAILABLE');
    assert.equal(error.status, 503);
    assert.equal(stub.calls, 4);
    assert.deepEqual(calls, ['error', 'error', 'error', 'error']);
    const warning = lines.find((line) => line.msg === 'token could not be verified');
    assert.match(String(warning?.reason), /status 500 after 4 attempt/);
    assert.ok(!JSON.stringify(lines).includes('Bearer good'), 'the token never reaches the logs');
  });

  test('an outage logs one warning per reason per interval, with request_id, not a line per token', async () => {
    const { auth, lines } = setup({ retries: 0, circuit_breaker: { min_requests: 100 } });
    await stub.setMode('error');
    for (let i = 0; i < 10; i++)
      await rejection(auth.authenticate(`Bearer token-${i}`, `req-${i}`), 'AUTH_UNAVAILABLE');
    const warnings = lines.filter((line) => line.msg === 'token could not be verified');
    assert.equal(warnings.length, 1, 'ten failures alike, one line');
    assert.equal(warnings[0].request_id, 'req-0');
    assert.equal(warnings[0].requestId, undefined, 'request lines use request_id');
  });

  test('a failure is not cached: the next request asks again and can succeed', async () => {
    const { auth } = setup({ retries: 0 });
    stub.addToken('good', { user_id: 'alice' });
    await stub.setMode('error');
    await rejection(auth.authenticate('Bearer good'), 'AUTH_UNAVAILABLE');
    await stub.setMode('normal');
    assert.equal((await auth.authenticate('Bearer good')).userId, 'alice');
    assert.equal(stub.calls, 2);
  });

  test('auth service hanging: each attempt cut at timeout, AUTH_UNAVAILABLE within the bound', async () => {
    const { auth, calls } = setup({ timeout: '200ms', retries: 2 });
    await stub.setMode('hang');
    const started = performance.now();
    await rejection(auth.authenticate('Bearer slow'), 'AUTH_UNAVAILABLE');
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 3000, `answered within 3 s (took ${Math.round(elapsed)} ms)`);
    assert.equal(stub.calls, 3);
    assert.deepEqual(calls, ['error', 'error', 'error']);
  });

  test('auth service down: retries+1 attempts, AUTH_UNAVAILABLE within the bound', async () => {
    const { auth, calls } = setup({ timeout: '500ms', retries: 2 });
    await stub.setMode('down');
    const started = performance.now();
    await rejection(auth.authenticate('Bearer any'), 'AUTH_UNAVAILABLE');
    assert.ok(performance.now() - started < 3000);
    assert.deepEqual(calls, ['error', 'error', 'error'], 'three connection attempts');
  });

  test('garbage 2xx: AUTH_UNAVAILABLE at once, not retried, not cached', async () => {
    const { auth, calls } = setup({ retries: 3 });
    await stub.setMode('garbage');
    await rejection(auth.authenticate('Bearer x'), 'AUTH_UNAVAILABLE');
    assert.equal(stub.calls, 1);
    assert.deepEqual(calls, ['unusable']);
    await rejection(auth.authenticate('Bearer x'), 'AUTH_UNAVAILABLE');
    assert.equal(stub.calls, 2);
  });

  test('2xx without a usable user id is AUTH_UNAVAILABLE', async () => {
    const { auth } = setup();
    const answers: Record<string, unknown>[] = [
      {},
      { user_id: '' },
      { roles: ['admin'] },
      { user_id: 'alice', exp: 'tomorrow' },
      { user_id: 'alice', roles: 'admin' },
    ];
    for (const [index, answer] of answers.entries()) {
      stub.addToken(`odd-${index}`, answer);
      await rejection(auth.authenticate(`Bearer odd-${index}`), 'AUTH_UNAVAILABLE');
    }
    assert.equal(stub.calls, answers.length);
  });

  test('CR, LF or NUL in the user id, or a comma in a role, is AUTH_UNAVAILABLE', async () => {
    const { auth } = setup();
    const answers: Record<string, unknown>[] = [
      { user_id: 'alice\r\nX-User-Roles: admin' },
      { user_id: 'alice\nadmin' },
      { user_id: 'alice\u0000' },
      { user_id: 'alice', roles: ['user\r\nX-Admin: 1'] },
      { user_id: 'alice', roles: ['user,admin'] },
    ];
    for (const [index, answer] of answers.entries()) {
      stub.addToken(`inject-${index}`, answer);
      await rejection(auth.authenticate(`Bearer inject-${index}`), 'AUTH_UNAVAILABLE');
    }
  });

  test('other 4xx (misconfigured verify_url) is AUTH_UNAVAILABLE without retries', async () => {
    const time = fakeClock();
    const calls: string[] = [];
    const auth = createAuthenticator(authConfig({ verify_url: `${stub.url}/wrong/path`, retries: 3 }), {
      logger: captureLogger().logger,
      clock: time.clock,
      onVerifyCall: (result) => calls.push(result),
    });
    open.push(auth);
    await rejection(auth.authenticate('Bearer x'), 'AUTH_UNAVAILABLE');
    assert.deepEqual(calls, ['unusable']);
  });
});

describe('protecting the auth service', () => {
  test('past max_calls_per_second: AUTH_UNAVAILABLE at once and no call, until the bucket refills', async () => {
    const { auth, time, calls } = setup({ max_calls_per_second: 2 });
    stub.addToken('a', { user_id: 'a' });
    stub.addToken('b', { user_id: 'b' });
    stub.addToken('c', { user_id: 'c' });
    await auth.authenticate('Bearer a');
    await auth.authenticate('Bearer b');
    const started = performance.now();
    await rejection(auth.authenticate('Bearer c'), 'AUTH_UNAVAILABLE');
    assert.ok(performance.now() - started < 1000, 'refused without waiting');
    assert.equal(stub.calls, 2);
    assert.deepEqual(calls, ['valid', 'valid', 'rate_limited']);
    assert.equal((await auth.authenticate('Bearer a')).userId, 'a', 'cached tokens still pass');
    time.advance(500);
    assert.equal((await auth.authenticate('Bearer c')).userId, 'c');
    assert.equal(stub.calls, 3);
  });

  test('with the default breaker, the third failed attempt opens it and ends the retries', async () => {
    const { auth } = setup({ retries: 3 });
    await stub.setMode('error');
    await rejection(auth.authenticate('Bearer x'), 'AUTH_UNAVAILABLE');
    assert.equal(stub.calls, 3);
    assert.equal(auth.breakerState(), 'open');
  });

  test('a retry refused by the rate limit ends the verification at once', async () => {
    const { auth } = setup({ max_calls_per_second: 1, retries: 3 });
    await stub.setMode('error');
    await rejection(auth.authenticate('Bearer x'), 'AUTH_UNAVAILABLE');
    assert.equal(stub.calls, 1);
  });

  test('the breaker opens on failures, refuses without calling, and recovers after its timeout', async () => {
    const { auth, time, calls } = setup({
      retries: 0,
      circuit_breaker: { min_requests: 3, failure_ratio: 0.5, timeout: '10s', max_requests: 1 },
    });
    stub.addToken('good', { user_id: 'alice' });
    await stub.setMode('error');
    for (let i = 0; i < 3; i++) await rejection(auth.authenticate('Bearer good'), 'AUTH_UNAVAILABLE');
    assert.equal(auth.breakerState(), 'open');
    await stub.setMode('normal');
    for (let i = 0; i < 5; i++) await rejection(auth.authenticate('Bearer good'), 'AUTH_UNAVAILABLE');
    assert.equal(stub.calls, 3, 'no call while open');
    assert.deepEqual(calls.slice(3), Array(5).fill('circuit_open'));
    time.advance(10_000);
    assert.equal((await auth.authenticate('Bearer good')).userId, 'alice');
    assert.equal(auth.breakerState(), 'closed');
    assert.equal(stub.calls, 4);
  });

  test('401s count as successes for the breaker', async () => {
    const { auth } = setup({ retries: 0, circuit_breaker: { min_requests: 3, failure_ratio: 0.5 } });
    for (let i = 0; i < 10; i++) await rejection(auth.authenticate(`Bearer nobody-${i}`), 'UNAUTHORIZED');
    assert.equal(auth.breakerState(), 'closed');
  });
});

describe('lifecycle', () => {
  test('close() lets a verification in flight finish, then refuses new work', async () => {
    const { auth } = setup();
    stub.addToken('good', { user_id: 'alice' });
    const inFlight = auth.authenticate('Bearer good');
    await auth.close();
    assert.equal((await inFlight).userId, 'alice');
    await rejection(auth.authenticate('Bearer good'), 'AUTH_UNAVAILABLE');
    assert.equal(stub.calls, 1);
  });

  test('destroy() aborts a hanging verification at once', async () => {
    const { auth } = setup({ timeout: '30s' });
    await stub.setMode('hang');
    const inFlight = auth.authenticate('Bearer slow');
    while (stub.calls === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const outcome = rejection(inFlight, 'AUTH_UNAVAILABLE');
    const started = performance.now();
    await auth.destroy();
    await outcome;
    assert.ok(performance.now() - started < 3000);
    await auth.close();
    await auth.destroy();
  });
});
