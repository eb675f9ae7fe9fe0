// jwt mode: tokens signed here with jose, keys served by a real JWKS endpoint on a
// local socket (test/auth/jwks-server.ts) or given as a static PEM.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { base64url, exportSPKI, type JSONWebKeySet, SignJWT } from 'jose';
import { type Authenticator, createAuthenticator, type Verifier } from '../../src/auth/authenticator.ts';
import { createJwtVerifier } from '../../src/auth/jwt-verifier.ts';
import { AuthUnavailableError } from '../../src/auth/verifier.ts';
import { type FakeClock, fakeClock } from '../helpers/clock.ts';
import {
  AUDIENCE,
  unsignedToken as craftUnsigned,
  ISSUER,
  issueToken,
  keySet,
  type SigningKey,
  signingKey,
  type TokenOptions,
} from '../helpers/jwt-issuer.ts';
import { captureLogger } from '../helpers/logs.ts';
import { type JwksServer, startJwksServer } from './jwks-server.ts';
import { authConfig, rejection } from './support.ts';

/** Tokens issued on the test's fake clock. */
function token(time: FakeClock, options: TokenOptions): Promise<string> {
  return issueToken({ ...options, nowSeconds: Math.floor(time.now / 1000) });
}

function unsignedToken(time: FakeClock, header: Record<string, unknown>): string {
  return craftUnsigned(header, Math.floor(time.now / 1000));
}

let keyA: SigningKey;
let keyB: SigningKey;
let stranger: SigningKey;
let jwks: JwksServer;
const open: Authenticator[] = [];

before(async () => {
  [keyA, keyB, stranger] = await Promise.all([signingKey('key-a'), signingKey('key-b'), signingKey('key-a')]);
  jwks = await startJwksServer(keySet(keyA));
});
after(async () => {
  await jwks.close();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((authenticator) => authenticator.destroy()));
  jwks.setKeys(keySet(keyA));
  jwks.setStatus(200);
  await jwks.setDown(false);
});

/** jwt mode against the test's JWKS endpoint, with `settings` added. */
function jwksConfig(settings: Record<string, unknown>) {
  return authConfig({ mode: 'jwt', jwks_url: jwks.url, issuer: ISSUER, audience: AUDIENCE, ...settings });
}

function jwtAuthenticator(settings: Record<string, unknown> = {}, time = fakeClock()) {
  const config = jwksConfig(settings);
  const calls: string[] = [];
  const auth = createAuthenticator(config, {
    logger: captureLogger().logger,
    clock: time.clock,
    onVerifyCall: (result) => calls.push(result),
  });
  open.push(auth);
  return { auth, time, calls };
}

describe('jwt mode with a JWKS endpoint', () => {
  test('a valid token passes and maps sub and roles', async () => {
    const { auth, time } = jwtAuthenticator();
    const identity = await auth.authenticate(`Bearer ${await token(time, { key: keyA })}`);
    assert.deepEqual(identity, { userId: 'alice', roles: ['reader', 'writer'] });
  });

  test('user_id_claim and roles_claim choose the claims', async () => {
    const { auth, time } = jwtAuthenticator({ user_id_claim: 'uid', roles_claim: 'groups' });
    const jwt = await token(time, { key: keyA, claims: { uid: 'u-7', groups: ['ops', 'dev'] } });
    assert.deepEqual(await auth.authenticate(`Bearer ${jwt}`), { userId: 'u-7', roles: ['ops', 'dev'] });
  });

  test('invalid tokens are 401 invalid_token', async () => {
    const { auth, time } = jwtAuthenticator({ clock_tolerance: '30s' });
    const hs256 = await new SignJWT({ sub: 'mallory', roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256', kid: 'key-a' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime(Math.floor(time.now / 1000) + 600)
      // The classic confusion attack: the public key used as an HMAC secret.
      .sign(new TextEncoder().encode(JSON.stringify(keyA.jwk)));
    const cases: Record<string, string> = {
      expired: await token(time, { key: keyA, expiresIn: -31 }),
      'without exp': await token(time, { key: keyA, expiresIn: null }),
      'signed by another key with the same kid': await token(time, { key: stranger }),
      'wrong issuer': await token(time, { key: keyA, issuer: 'https://evil.test' }),
      'wrong audience': await token(time, { key: keyA, audience: 'someone-else' }),
      'alg none': unsignedToken(time, { alg: 'none', typ: 'JWT' }),
      'alg none with a kid': unsignedToken(time, { alg: 'none', kid: 'key-a' }),
      HS256: hs256,
      'not a JWT': 'abc.def',
      'tampered payload': (await token(time, { key: keyA })).replace(
        /\.[^.]+\./,
        `.${base64url.encode('{"sub":"root"}')}.`,
      ),
      'CR/LF in sub': await token(time, { key: keyA, claims: { sub: 'alice\r\nX-User-Roles: admin' } }),
      'comma in a role': await token(time, { key: keyA, claims: { roles: ['reader,admin'] } }),
      'no sub': await token(time, { key: keyA, claims: { sub: undefined } }),
    };
    for (const [name, jwt] of Object.entries(cases)) {
      const error = await rejection(auth.authenticate(`Bearer ${jwt}`), 'UNAUTHORIZED').catch(
        (e: unknown) => {
          throw new Error(`${name}: ${String(e)}`);
        },
      );
      assert.deepEqual(error.headers, { 'www-authenticate': 'Bearer error="invalid_token"' }, name);
    }
  });

  test('a token within clock_tolerance of its exp still passes', async () => {
    const { auth, time } = jwtAuthenticator({ clock_tolerance: '30s' });
    assert.equal(
      (await auth.authenticate(`Bearer ${await token(time, { key: keyA, expiresIn: -20 })}`)).userId,
      'alice',
    );
  });

  test('a rotated key (new kid) is fetched and accepted', async () => {
    const { auth, time } = jwtAuthenticator({ jwks_cooldown: '1ms' });
    await auth.authenticate(`Bearer ${await token(time, { key: keyA })}`);
    const before = jwks.fetches;
    jwks.setKeys(keySet(keyA, keyB));
    await sleep(5); // jose measures the cooldown on the real clock
    const identity = await auth.authenticate(
      `Bearer ${await token(time, { key: keyB, claims: { sub: 'bob' } })}`,
    );
    assert.equal(identity.userId, 'bob');
    assert.equal(jwks.fetches, before + 1);
  });

  test('unknown kids refetch at most once per cooldown, and are not remembered as bad', async () => {
    const { auth, time } = jwtAuthenticator({ jwks_cooldown: '30s' });
    await auth.authenticate(`Bearer ${await token(time, { key: keyA })}`);
    const fetched = jwks.fetches;
    const rotated = `Bearer ${await token(time, { key: keyB })}`;
    jwks.setKeys(keySet(keyA, keyB));
    for (let i = 0; i < 10; i++) await rejection(auth.authenticate(rotated), 'UNAUTHORIZED');
    assert.equal(jwks.fetches, fetched, 'inside the cooldown the JWKS endpoint is left alone');
  });

  test('JWKS endpoint unreachable and no key yet: AUTH_UNAVAILABLE', async () => {
    const { auth, time, calls } = jwtAuthenticator({ timeout: '500ms' });
    await jwks.setDown(true);
    const started = performance.now();
    await rejection(auth.authenticate(`Bearer ${await token(time, { key: keyA })}`), 'AUTH_UNAVAILABLE');
    assert.ok(performance.now() - started < 3000);
    assert.deepEqual(calls, ['error']);
  });

  test('JWKS endpoint answering 500 or garbage: AUTH_UNAVAILABLE', async () => {
    const { auth, time } = jwtAuthenticator();
    jwks.setStatus(500);
    await rejection(auth.authenticate(`Bearer ${await token(time, { key: keyA })}`), 'AUTH_UNAVAILABLE');
    jwks.setStatus(200);
    jwks.setKeys({ keys: 'nope' } as unknown as JSONWebKeySet);
    await rejection(
      auth.authenticate(`Bearer ${await token(time, { key: keyA, claims: { n: 2 } })}`),
      'AUTH_UNAVAILABLE',
    );
  });

  test('JWKS fetches go through the breaker: once open, no fetch is made', async () => {
    const { auth, time, calls } = jwtAuthenticator({
      circuit_breaker: { min_requests: 2, failure_ratio: 0.5 },
    });
    jwks.setStatus(503);
    for (let i = 0; i < 4; i++) {
      await rejection(
        auth.authenticate(`Bearer ${await token(time, { key: keyA, claims: { n: i } })}`),
        'AUTH_UNAVAILABLE',
      );
    }
    assert.deepEqual(calls, ['error', 'error', 'circuit_open', 'circuit_open']);
    assert.equal(auth.breakerState(), 'open');
  });
});

describe('jwt verification cache', () => {
  function counting(inner: Verifier): Verifier & { readonly count: number } {
    let count = 0;
    return {
      ...inner,
      verify(request) {
        count++;
        return inner.verify(request);
      },
      get count() {
        return count;
      },
    };
  }

  test('a hot token is verified once, and again after its exp', async () => {
    const time = fakeClock();
    const config = jwksConfig({ clock_tolerance: '1s' });
    const { logger } = captureLogger();
    const verifier = counting(createJwtVerifier(config, { logger, clock: time.clock }));
    const auth = createAuthenticator(config, { logger, clock: time.clock, verifier });
    open.push(auth);
    const header = `Bearer ${await token(time, { key: keyA, expiresIn: 60 })}`;
    await Promise.all(Array.from({ length: 20 }, () => auth.authenticate(header)));
    for (let i = 0; i < 30; i++) await auth.authenticate(header);
    assert.equal(verifier.count, 1);
    time.advance(59_999);
    await auth.authenticate(header);
    assert.equal(verifier.count, 1, 'cached until exp');
    time.advance(1);
    await auth.authenticate(header);
    assert.equal(verifier.count, 2, 'verified again at exp (still inside clock_tolerance)');
    time.advance(1_000);
    await rejection(auth.authenticate(header), 'UNAUTHORIZED');
    assert.equal(verifier.count, 3, 'verified again, and now expired');
    await rejection(auth.authenticate(header), 'UNAUTHORIZED');
    assert.equal(verifier.count, 3, 'the refusal is cached');
  });
});

describe('stale keys when the JWKS endpoint fails', () => {
  test('keys already fetched keep verifying their tokens; unknown kids become AUTH_UNAVAILABLE', async () => {
    const time = fakeClock();
    const config = jwksConfig({ jwks_cooldown: '1ms' });
    // Keys are stale after 1 ms, so every verification tries to fetch them again.
    const verifier = createJwtVerifier(config, {
      logger: captureLogger().logger,
      clock: time.clock,
      jwksMaxAgeMs: 1,
    });
    const verify = async (jwt: string) => verifier.verify({ authorization: `Bearer ${jwt}`, token: jwt });
    try {
      assert.equal((await verify(await token(time, { key: keyA }))).valid, true);
      await jwks.setDown(true);
      await sleep(5);
      const verdict = await verify(await token(time, { key: keyA, claims: { sub: 'again' } }));
      assert.ok(verdict.valid && verdict.identity.userId === 'again', 'verified with the last keys fetched');
      assert.equal(
        (await verify(await token(time, { key: stranger }))).valid,
        false,
        'a bad signature is still bad',
      );
      await assert.rejects(verify(await token(time, { key: keyB })), AuthUnavailableError);
    } finally {
      await verifier.destroy();
    }
  });
});

describe('jwt mode with a static public key', () => {
  test('a token signed by the key passes; others and other algorithms do not', async () => {
    const time = fakeClock();
    const config = authConfig({
      mode: 'jwt',
      public_key: await exportSPKI(keyA.publicKey),
      issuer: ISSUER,
      audience: AUDIENCE,
    });
    const auth = createAuthenticator(config, { logger: captureLogger().logger, clock: time.clock });
    open.push(auth);
    assert.equal(
      (await auth.authenticate(`Bearer ${await token(time, { key: keyA, kid: 'anything' })}`)).userId,
      'alice',
    );
    await rejection(auth.authenticate(`Bearer ${await token(time, { key: stranger })}`), 'UNAUTHORIZED');
    const ec = await signingKey('ec', 'ES256');
    await rejection(
      auth.authenticate(`Bearer ${await token(time, { key: ec, alg: 'ES256' })}`),
      'UNAUTHORIZED',
    );
    await rejection(auth.authenticate(`Bearer ${unsignedToken(time, { alg: 'none' })}`), 'UNAUTHORIZED');
  });

  test('an EC key with EC algorithms works; a key no allowed algorithm fits fails at config time', async () => {
    const time = fakeClock();
    const ec = await signingKey('ec', 'ES256');
    const pem = await exportSPKI(ec.publicKey);
    const auth = createAuthenticator(authConfig({ mode: 'jwt', public_key: pem }), {
      logger: captureLogger().logger,
      clock: time.clock,
    });
    open.push(auth);
    assert.equal(
      (await auth.authenticate(`Bearer ${await token(time, { key: ec, alg: 'ES256' })}`)).userId,
      'alice',
    );
    assert.throws(
      () =>
        createAuthenticator(authConfig({ mode: 'jwt', public_key: pem, algorithms: ['RS256'] }), {
          logger: captureLogger().logger,
        }),
      /none of auth.algorithms/,
    );
    assert.throws(() =>
      createAuthenticator(authConfig({ mode: 'jwt', public_key: 'not a pem' }), {
        logger: captureLogger().logger,
      }),
    );
  });
});
