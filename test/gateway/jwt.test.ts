// jwt mode end to end: a real gateway verifying tokens locally against the keys of a
// real JWKS endpoint (test/auth/jwks-server.ts), in front of a real upstream that
// records what it receives. Tokens are signed here with jose, as an issuer would.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { base64url, SignJWT } from 'jose';
import { type JwksServer, startJwksServer } from '../auth/jwks-server.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { rawExchange, type SimpleResponse, send } from '../helpers/http.ts';
import {
  AUDIENCE,
  ISSUER,
  keySet,
  type SigningKey,
  signingKey,
  issueToken as token,
  unsignedToken,
} from '../helpers/jwt-issuer.ts';
import { type RecordedRequest, startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const nowSeconds = () => Math.floor(Date.now() / 1000);
const bearer = (jwt: string) => ({ authorization: `Bearer ${jwt}` });

function assertUnauthorized(response: SimpleResponse, what: string): void {
  assert.equal(response.status, 401, `${what}: ${response.body.toString()}`);
  assert.equal(response.json<{ error: { code: string } }>().error.code, 'UNAUTHORIZED', what);
  assert.equal(response.headers['www-authenticate'], 'Bearer error="invalid_token"', what);
}

/** The identity-looking headers the upstream received, duplicates kept. */
function identityHeaders(seen: RecordedRequest): [string, string][] {
  const pairs: [string, string][] = [];
  for (let i = 0; i < seen.rawHeaders.length; i += 2) {
    const name = seen.rawHeaders[i].toLowerCase().replaceAll('_', '-');
    if (name.startsWith('x-user-')) pairs.push([name, seen.rawHeaders[i + 1]]);
  }
  return pairs.sort(([a], [b]) => a.localeCompare(b));
}

let keyA: SigningKey;
let keyB: SigningKey;
let impostor: SigningKey;
let jwks: JwksServer;
let upstream: TestUpstream;
let gw: TestGateway;

before(async () => {
  // The impostor publishes nothing but reuses key A's kid.
  [keyA, keyB, impostor] = await Promise.all([signingKey('key-a'), signingKey('key-b'), signingKey('key-a')]);
  [jwks, upstream] = await Promise.all([startJwksServer(keySet(keyA)), startUpstream()]);
  gw = await startTestGateway({
    services: { app: { url: upstream.url } },
    routes: [
      { path: '/secure', service: 'app', auth: 'required' },
      { path: '/open', service: 'app', auth: 'none' },
    ],
    auth: {
      mode: 'jwt',
      jwks_url: jwks.url,
      issuer: ISSUER,
      audience: AUDIENCE,
      clock_tolerance: '5s',
      // Short, so a rotated key is fetched within the test's bound.
      jwks_cooldown: '100ms',
    },
  });
});

after(async () => {
  await gw.close();
  await Promise.all([jwks.close(), upstream.close()]);
});

describe('jwt mode through the gateway', () => {
  test('a valid token: the upstream gets X-User-ID from sub and X-User-Roles from roles; the keys are fetched once', async () => {
    const response = await send(`${gw.url}/secure/profile`, { headers: bearer(await token({ key: keyA })) });
    assert.equal(response.status, 200, response.body.toString());
    const seen = upstream.requests[upstream.requests.length - 1];
    assert.equal(seen.url, '/secure/profile');
    assert.deepEqual(identityHeaders(seen), [
      ['x-user-id', 'alice'],
      ['x-user-roles', 'reader,writer'],
    ]);
    assert.equal(jwks.fetches, 1);

    // Further tokens signed by the same key are verified locally with the cached keys.
    for (const sub of ['bob', 'carol', 'dave']) {
      const other = await send(`${gw.url}/secure`, {
        headers: bearer(await token({ key: keyA, claims: { sub, roles: [] } })),
      });
      assert.equal(other.status, 200);
      assert.equal(upstream.requests[upstream.requests.length - 1].headers['x-user-id'], sub);
    }
    assert.equal(jwks.fetches, 1);
  });

  test("spoofed identity headers beside a valid token are replaced by the token's", async () => {
    const jwt = await token({ key: keyA, claims: { sub: 'erin', roles: ['ops'] } });
    const response = await rawExchange(
      gw.url,
      `GET /secure HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${jwt}\r\nX-User-ID: admin\r\nX_User_ID: root\r\nx-user-roles: superuser\r\nConnection: close\r\n\r\n`,
    );
    assert.match(response, /^HTTP\/1\.1 200 /);
    assert.deepEqual(identityHeaders(upstream.requests[upstream.requests.length - 1]), [
      ['x-user-id', 'erin'],
      ['x-user-roles', 'ops'],
    ]);
  });

  test('expired, wrong key, wrong issuer, wrong audience, alg none and friends: 401 and the upstream untouched', async () => {
    const hs256 = await new SignJWT({ sub: 'mallory', roles: ['admin'] })
      .setProtectedHeader({ alg: 'HS256', kid: 'key-a' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime(nowSeconds() + 600)
      // Algorithm confusion: the published public key used as an HMAC secret.
      .sign(new TextEncoder().encode(JSON.stringify(keyA.jwk)));
    const cases: Record<string, string> = {
      expired: await token({ key: keyA, expiresIn: -60 }),
      'wrong key (same kid as the published one)': await token({ key: impostor }),
      'wrong key (a kid the JWKS does not publish)': await token({ key: impostor, kid: 'key-x' }),
      'wrong issuer': await token({ key: keyA, issuer: 'https://evil.test' }),
      'wrong audience': await token({ key: keyA, audience: 'someone-else' }),
      'alg none': unsignedToken({ alg: 'none', typ: 'JWT' }),
      'alg none with a published kid': unsignedToken({ alg: 'none', kid: 'key-a' }),
      'HS256 signed with the public key': hs256,
      'no exp': await token({ key: keyA, expiresIn: null }),
      'payload swapped after signing': (await token({ key: keyA })).replace(
        /\.[^.]+\./,
        `.${base64url.encode(JSON.stringify({ sub: 'root', iss: ISSUER, aud: AUDIENCE, exp: nowSeconds() + 600 }))}.`,
      ),
    };
    const before = upstream.requests.length;
    for (const [what, jwt] of Object.entries(cases)) {
      assertUnauthorized(
        await send(`${gw.url}/secure`, { headers: { ...bearer(jwt), 'x-user-id': 'admin' } }),
        what,
      );
    }
    assert.equal(upstream.requests.length, before, 'no refused token reaches the upstream');
    // Sanity: the same gateway still accepts a good token.
    assert.equal(
      (await send(`${gw.url}/secure`, { headers: bearer(await token({ key: keyA })) })).status,
      200,
    );
  });

  test('no token: 401 with a plain Bearer challenge; auth: none routes pass without identity', async () => {
    const before = upstream.requests.length;
    const response = await send(`${gw.url}/secure`);
    assert.equal(response.status, 401);
    assert.equal(response.headers['www-authenticate'], 'Bearer');
    assert.equal(upstream.requests.length, before);

    const open = await send(`${gw.url}/open`, {
      headers: { ...bearer(await token({ key: keyA })), 'x-user-id': 'admin' },
    });
    assert.equal(open.status, 200);
    assert.deepEqual(identityHeaders(upstream.requests[upstream.requests.length - 1]), []);
  });

  // Last: it replaces the published keys.
  test('a rotated key (the JWKS now serves a new kid) is picked up without restarting the gateway', async () => {
    const fetchedBefore = jwks.fetches;
    jwks.setKeys(keySet(keyB));
    const rotated = await token({ key: keyB, claims: { sub: 'frank', roles: ['admin'] } });
    // A kid the gateway has never seen makes it fetch the keys again (at most once per
    // jwks_cooldown), and such a refusal is not remembered: poll, bounded.
    const deadline = performance.now() + 5000;
    let response = await send(`${gw.url}/secure`, { headers: bearer(rotated) });
    while (response.status !== 200 && performance.now() < deadline) {
      assertUnauthorized(response, 'before the new keys are fetched');
      await sleep(50);
      response = await send(`${gw.url}/secure`, { headers: bearer(rotated) });
    }
    assert.equal(response.status, 200, 'the token signed by the new key is accepted');
    assert.deepEqual(identityHeaders(upstream.requests[upstream.requests.length - 1]), [
      ['x-user-id', 'frank'],
      ['x-user-roles', 'admin'],
    ]);
    assert.ok(jwks.fetches > fetchedBefore, 'the keys were fetched again');

    // Key A is no longer published: a new token signed by it is refused.
    const before = upstream.requests.length;
    assertUnauthorized(
      await send(`${gw.url}/secure`, {
        headers: bearer(await token({ key: keyA, claims: { sub: 'gina' } })),
      }),
      'retired key',
    );
    assert.equal(upstream.requests.length, before);
  });
});
