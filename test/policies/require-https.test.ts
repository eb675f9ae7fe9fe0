// auth.require_https as a policy: a credential over plain HTTP is refused with
// HTTPS_REQUIRED before anything else runs; HTTPS requests and requests without a
// credential pass; off when the key is false.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuthConfig } from '../../src/config/schema.ts';
import { GatewayError } from '../../src/errors.ts';
import { createRequireHttpsPolicy } from '../../src/policies/require-https.ts';
import { testRequest } from '../helpers/policy-request.ts';

const on = { require_https: true } as AuthConfig;

test('a credential over plain HTTP is refused with 403 HTTPS_REQUIRED', () => {
  const policy = createRequireHttpsPolicy(on)!;
  assert.throws(
    () => policy(testRequest({ headers: { authorization: 'Bearer t' } })),
    (error: unknown) =>
      error instanceof GatewayError && error.code === 'HTTPS_REQUIRED' && error.status === 403,
  );
});

test('HTTPS requests and requests without a credential pass', () => {
  const policy = createRequireHttpsPolicy(on)!;
  assert.equal(policy(testRequest({ headers: { authorization: 'Bearer t' }, secure: true })), undefined);
  assert.equal(policy(testRequest({ headers: {} })), undefined);
});

test('no policy without auth.require_https', () => {
  assert.equal(createRequireHttpsPolicy({ require_https: false } as AuthConfig), null);
  assert.equal(createRequireHttpsPolicy(undefined), null);
});
