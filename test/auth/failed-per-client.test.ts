// The authenticator charges a client address for verifications that end in a refusal
// (auth.failed_per_client), with a counting verifier standing in for the auth service.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAuthenticator } from '../../src/auth/authenticator.ts';
import { AuthUnavailableError, type Verdict, type Verifier } from '../../src/auth/verifier.ts';
import { fakeClock } from '../helpers/clock.ts';
import { captureLogger } from '../helpers/logs.ts';
import { authConfig, rejection } from './support.ts';

const GOOD = 'good';

function setup(failedPerClient = 2) {
  const time = fakeClock();
  const calls: string[] = [];
  let down = false;
  const verifier: Verifier = {
    async verify({ token }): Promise<Verdict> {
      calls.push(token);
      if (down) throw new AuthUnavailableError('status 500');
      if (token.startsWith(GOOD))
        return { valid: true, identity: { userId: token, roles: [] }, expiresAtMs: undefined };
      return { valid: false, cacheable: true, reason: 'rejected' };
    },
    breakerState: () => 'closed',
    close: async () => {},
    destroy: async () => {},
  };
  const results: string[] = [];
  const authenticator = createAuthenticator(
    authConfig({ verify_url: 'http://127.0.0.1:1/verify', failed_per_client: failedPerClient }),
    { logger: captureLogger().logger, clock: time.clock, verifier, onVerifyCall: (r) => results.push(r) },
  );
  return {
    time,
    calls,
    results,
    authenticator,
    setDown: (value: boolean) => {
      down = value;
    },
  };
}

describe('auth.failed_per_client', () => {
  it('an address past its share of refusals gets 429 with Retry-After and causes no call; others still verify', async () => {
    const { time, calls, results, authenticator } = setup(2);
    const attacker = '203.0.113.66';
    for (let i = 0; i < 2; i++)
      await rejection(authenticator.authenticate(`Bearer bad-${i}`, undefined, attacker), 'UNAUTHORIZED');
    const limited = await rejection(
      authenticator.authenticate('Bearer bad-2', undefined, attacker),
      'RATE_LIMITED',
    );
    assert.equal(limited.status, 429);
    assert.equal(limited.headers?.['retry-after'], '1');
    assert.equal(calls.length, 2, 'no call for the refused attempt');
    assert.deepEqual(results, ['client_limited']);
    const identity = await authenticator.authenticate(`Bearer ${GOOD}-1`, undefined, '198.51.100.7');
    assert.equal(identity.userId, `${GOOD}-1`);
    // A refusal already cached costs the attacker nothing more, and nothing is called.
    await rejection(authenticator.authenticate('Bearer bad-0', undefined, attacker), 'UNAUTHORIZED');
    time.advance(500);
    await rejection(authenticator.authenticate('Bearer bad-3', undefined, attacker), 'UNAUTHORIZED');
    assert.equal(calls.length, 4);
  });

  it('valid tokens and auth-service failures are not charged to the client', async () => {
    const { calls, authenticator, setDown } = setup(1);
    const client = '198.51.100.7';
    for (let i = 0; i < 10; i++) await authenticator.authenticate(`Bearer ${GOOD}-${i}`, undefined, client);
    setDown(true);
    for (let i = 0; i < 3; i++)
      await rejection(authenticator.authenticate(`Bearer other-${i}`, undefined, client), 'AUTH_UNAVAILABLE');
    setDown(false);
    await rejection(authenticator.authenticate('Bearer bad', undefined, client), 'UNAUTHORIZED');
    assert.equal(calls.length, 14);
  });

  it('concurrent requests with one new token share one reservation', async () => {
    const { calls, authenticator } = setup(1);
    const identities = await Promise.all(
      Array.from({ length: 20 }, () =>
        authenticator.authenticate(`Bearer ${GOOD}-page`, undefined, '198.51.100.7'),
      ),
    );
    assert.equal(identities.length, 20);
    assert.equal(calls.length, 1);
  });

  it('0 turns the share off', async () => {
    const { calls, authenticator } = setup(0);
    for (let i = 0; i < 20; i++)
      await rejection(
        authenticator.authenticate(`Bearer bad-${i}`, undefined, '203.0.113.66'),
        'UNAUTHORIZED',
      );
    assert.equal(calls.length, 20);
  });
});
