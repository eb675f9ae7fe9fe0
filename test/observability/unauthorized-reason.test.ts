// A 401's reason reaches the access line at info as a short code, and the token never does.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type JwksServer, startJwksServer } from '../auth/jwks-server.ts';
import { type AuthStub, startAuthStub } from '../helpers/auth-stub.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { AUDIENCE, ISSUER, issueToken, keySet, type SigningKey, signingKey } from '../helpers/jwt-issuer.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let key: SigningKey;
let impostor: SigningKey;
let stranger: SigningKey;
let jwks: JwksServer;
let auth: AuthStub;
let upstream: TestUpstream;
let jwtGateway: TestGateway;
let remoteGateway: TestGateway;

before(async () => {
  // The impostor signs with a key of the same kid; the stranger's kid is published by nobody.
  [key, impostor, stranger] = await Promise.all([signingKey('k1'), signingKey('k1'), signingKey('k9')]);
  [jwks, auth, upstream] = await Promise.all([
    startJwksServer(keySet(key)),
    startAuthStub({ tokens: { 'good-token': { user_id: 'alice' } } }),
    startUpstream(),
  ]);
  const routes = [{ path: '/secure', service: 'app', auth: 'required' }];
  jwtGateway = await startTestGateway({
    services: { app: { url: upstream.url } },
    routes,
    auth: { mode: 'jwt', jwks_url: jwks.url, issuer: ISSUER, audience: AUDIENCE, jwks_cooldown: '100ms' },
  });
  remoteGateway = await startTestGateway({
    services: { app: { url: upstream.url } },
    routes,
    auth: { mode: 'remote', verify_url: auth.verifyUrl },
  });
});

after(async () => {
  await Promise.all([jwtGateway.close(), remoteGateway.close()]);
  await Promise.all([jwks.close(), auth.close(), upstream.close()]);
});

async function reasonFor(gw: TestGateway, authorization: string | undefined): Promise<unknown> {
  const requestId = `reason-${Math.random().toString(36).slice(2)}`;
  const headers: Record<string, string> = { 'x-request-id': requestId };
  if (authorization !== undefined) headers.authorization = authorization;
  const response = await send(`${gw.url}/secure`, { headers });
  assert.equal(response.status, 401);
  const line = gw.logs().find((l) => l.msg === 'request' && l.request_id === requestId);
  assert.ok(line, 'an access line');
  assert.equal(line.level, 'info');
  if (authorization !== undefined) {
    const token = authorization.replace(/^Bearer /, '');
    assert.ok(!JSON.stringify(gw.logs()).includes(token), 'the token is never logged');
  }
  return line.reason;
}

test('jwt mode: missing, malformed, expired, bad signature, unknown key, rejected claims', async () => {
  assert.equal(await reasonFor(jwtGateway, undefined), 'missing');
  assert.equal(await reasonFor(jwtGateway, 'Bearer not.a-jwt'), 'malformed');
  assert.equal(
    await reasonFor(jwtGateway, `Bearer ${await issueToken({ key, expiresIn: -600 })}`),
    'expired',
  );
  assert.equal(await reasonFor(jwtGateway, `Bearer ${await issueToken({ key: impostor })}`), 'bad_signature');
  assert.equal(await reasonFor(jwtGateway, `Bearer ${await issueToken({ key: stranger })}`), 'unknown_key');
  assert.equal(
    await reasonFor(jwtGateway, `Bearer ${await issueToken({ key, audience: 'someone-else' })}`),
    'rejected',
  );
  // The second refusal of the same token comes from the cache, with the same reason.
  const expired = `Bearer ${await issueToken({ key, expiresIn: -900 })}`;
  assert.equal(await reasonFor(jwtGateway, expired), 'expired');
  assert.equal(await reasonFor(jwtGateway, expired), 'expired');
});

test('remote mode: the auth service said no', async () => {
  assert.equal(await reasonFor(remoteGateway, 'Bearer unknown-token'), 'rejected');
  assert.equal(await reasonFor(remoteGateway, 'Basic dXNlcjpwYXNz'), 'missing');
  const ok = await send(`${remoteGateway.url}/secure`, { headers: { authorization: 'Bearer good-token' } });
  assert.equal(ok.status, 200);
  assert.equal(remoteGateway.logs().find((l) => l.msg === 'request' && l.status === 200)?.reason, undefined);
});
