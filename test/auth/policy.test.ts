// The auth step of a route's chain, against the real stub auth service.
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, test } from 'node:test';
import { type Authenticator, createAuthenticator } from '../../src/auth/authenticator.ts';
import { GatewayError } from '../../src/errors.ts';
import { createAuthPolicy, isSafeHeaderValue } from '../../src/policies/auth.ts';
import type { BuiltinPolicy } from '../../src/policies/policy.ts';
import { type AuthStub, startAuthStub } from '../helpers/auth-stub.ts';
import { captureLogger } from '../helpers/logs.ts';
import { type TestRequest, testRequest } from '../helpers/policy-request.ts';
import { authConfig, noJitter } from './support.ts';

let stub: AuthStub;
let authenticator: Authenticator;

before(async () => {
  stub = await startAuthStub();
  stub.addToken('good', { user_id: 'alice', roles: ['admin'] });
});
after(async () => {
  await stub.close();
});
// A fresh authenticator per test: its breaker and cache must not carry one test's
// failures (an auth service left down or erroring) into the next.
beforeEach(async () => {
  await stub.setMode('normal');
  stub.resetCalls();
  authenticator = createAuthenticator(
    // A generous deadline: on a loaded machine the first call may take a while.
    authConfig({ verify_url: stub.verifyUrl, retries: 1, timeout: '2s' }),
    {
      logger: captureLogger().logger,
      random: noJitter,
    },
  );
});
afterEach(async () => {
  await authenticator.close();
});

function context(headers: Record<string, string>): TestRequest {
  return testRequest({ headers });
}

async function run(policy: BuiltinPolicy, ctx: TestRequest): Promise<unknown> {
  return policy(ctx);
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof GatewayError && error.code === code);
}

test('none: no step at all', () => {
  assert.equal(createAuthPolicy('none', undefined), null);
  assert.equal(createAuthPolicy('none', authenticator), null);
});

test('required or optional without an authenticator is a config error', () => {
  assert.throws(() => createAuthPolicy('required', undefined));
  assert.throws(() => createAuthPolicy('optional', undefined));
});

test('required: the identity is set from a valid token and the request id is forwarded', async () => {
  const policy = createAuthPolicy('required', authenticator)!;
  const ctx = context({ authorization: 'Bearer good' });
  assert.equal(await run(policy, ctx), undefined);
  assert.deepEqual(ctx.identity, { userId: 'alice', roles: ['admin'] });
  assert.equal(stub.requests[0].headers['x-request-id'], 'req-1');
});

test('required: no token or a bad token is 401; an unavailable auth service is 503', async () => {
  const policy = createAuthPolicy('required', authenticator)!;
  await rejectsWith(run(policy, context({})), 'UNAUTHORIZED');
  const bad = context({ authorization: 'Bearer bad' });
  await rejectsWith(run(policy, bad), 'UNAUTHORIZED');
  assert.equal(bad.identity, undefined);
  await stub.setMode('error');
  await rejectsWith(run(policy, context({ authorization: 'Bearer other' })), 'AUTH_UNAVAILABLE');
});

test('optional: no Authorization header continues anonymously, synchronously, without a call', async () => {
  const policy = createAuthPolicy('optional', authenticator)!;
  const ctx = context({});
  assert.equal(policy(ctx), undefined, 'no promise on the anonymous path');
  assert.equal(ctx.identity, undefined);
  assert.equal(policy(context({ authorization: '' })), undefined);
  assert.equal(stub.calls, 0);
});

test('optional: a valid token sets the identity; a bad one is 401; an unavailable auth service is 503', async () => {
  const policy = createAuthPolicy('optional', authenticator)!;
  const ctx = context({ authorization: 'Bearer good' });
  await run(policy, ctx);
  assert.equal(ctx.identity?.userId, 'alice');
  await rejectsWith(run(policy, context({ authorization: 'Bearer forged' })), 'UNAUTHORIZED');
  await rejectsWith(run(policy, context({ authorization: 'Basic dXNlcjpwYXNz' })), 'UNAUTHORIZED');
  await stub.setMode('down');
  await rejectsWith(run(policy, context({ authorization: 'Bearer unseen' })), 'AUTH_UNAVAILABLE');
});

test('the header-value check is exported for the forwarder', () => {
  assert.equal(isSafeHeaderValue('alice'), true);
  assert.equal(isSafeHeaderValue('alice\r\nx: y'), false);
});

test('a repeated Authorization field is 401 without a call, in both modes', async () => {
  for (const mode of ['required', 'optional'] as const) {
    const policy = createAuthPolicy(mode, authenticator)!;
    const twice = testRequest({
      headers: { authorization: 'Bearer good' },
      rawHeaders: ['Authorization', 'Bearer good', 'authorization', 'Bearer other'],
    });
    await rejectsWith(run(policy, twice), 'UNAUTHORIZED');
    assert.equal(twice.identity, undefined);
  }
  assert.equal(stub.calls, 0);
});

test('a token whose valid verdict is cached is admitted synchronously, with no call and no promise', async () => {
  const policy = createAuthPolicy('required', authenticator)!;
  const first = context({ authorization: 'Bearer good' });
  assert.ok(policy(first) instanceof Promise, 'the first sight of a token asks the auth service');
  await policy(first);
  assert.equal(first.identity?.userId, 'alice');

  const second = context({ authorization: 'Bearer good' });
  assert.equal(policy(second), undefined, 'answered at once from the cache');
  assert.equal(second.identity?.userId, 'alice');
  assert.equal(stub.calls, 1);
  assert.deepEqual(authenticator.cachedIdentity('Bearer good'), { userId: 'alice', roles: ['admin'] });

  // One connection that switches from the cached token to an unknown one is asked about the new one.
  const connection = {};
  assert.deepEqual(authenticator.cachedIdentity('Bearer good', connection), {
    userId: 'alice',
    roles: ['admin'],
  });
  assert.equal(authenticator.cachedIdentity('Bearer other', connection), undefined);
  assert.equal(authenticator.cachedIdentity('Basic Zm9vOmJhcg==', connection), undefined);

  // Not cached, malformed, or after close: the asynchronous path decides (and refuses).
  assert.equal(authenticator.cachedIdentity('Bearer other'), undefined);
  assert.equal(authenticator.cachedIdentity('Basic Zm9vOmJhcg=='), undefined);
  await authenticator.close();
  assert.equal(authenticator.cachedIdentity('Bearer good'), undefined);
  await rejectsWith(run(policy, context({ authorization: 'Bearer good' })), 'AUTH_UNAVAILABLE');
});
