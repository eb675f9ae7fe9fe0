// ip_deny and ip_allow through a trusted proxy's X-Forwarded-For: the address that
// counts is the one resolved through server.trusted_proxies, and a refused request
// gets 403 FORBIDDEN before the auth service is asked.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type AuthStub, startAuthStub } from '../helpers/auth-stub.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let upstream: TestUpstream;
let auth: AuthStub;
let gw: TestGateway;

before(async () => {
  upstream = await startUpstream();
  auth = await startAuthStub({ tokens: { good: { user_id: 'u1' } } });
  gw = await startTestGateway({
    server: { trusted_proxies: ['127.0.0.1'] },
    auth: { mode: 'remote', verify_url: auth.verifyUrl },
    services: { app: { url: upstream.url } },
    routes: [
      { path: '/deny', service: 'app', auth: 'required', ip_deny: ['203.0.113.0/24'] },
      { path: '/allow', service: 'app', auth: 'none', ip_allow: ['198.51.100.0/24', '2001:db8::/32'] },
    ],
  });
});

after(async () => {
  await gw.close();
  await upstream.close();
  await auth.close();
});

const from = (forwardedFor: string, extra: Record<string, string> = {}) => ({
  headers: { 'x-forwarded-for': forwardedFor, ...extra },
});

test('ip_deny refuses its CIDR with 403 before auth is called, and lets others through', async () => {
  auth.resetCalls();
  const count = upstream.requests.length;
  const refused = await send(`${gw.url}/deny/a`, from('203.0.113.7', { authorization: 'Bearer good' }));
  assert.equal(refused.status, 403);
  assert.equal(refused.json<{ error: { code: string } }>().error.code, 'FORBIDDEN');
  assert.equal(auth.calls, 0, 'the auth service was not asked');
  assert.equal(upstream.requests.length, count);

  const admitted = await send(`${gw.url}/deny/a`, from('198.51.100.1', { authorization: 'Bearer good' }));
  assert.equal(admitted.status, 200);
  assert.equal(auth.calls, 1);
});

test('ip_allow admits only its ranges, IPv4 and IPv6, as resolved through the trusted proxy', async () => {
  assert.equal((await send(`${gw.url}/allow`, from('198.51.100.9'))).status, 200);
  assert.equal((await send(`${gw.url}/allow`, from('2001:db8::1'))).status, 200);
  assert.equal((await send(`${gw.url}/allow`, from('192.0.2.1'))).status, 403);
  // A client writing an allowed address to the left of its own cannot borrow it.
  assert.equal((await send(`${gw.url}/allow`, from('198.51.100.9, 192.0.2.1'))).status, 403);
  // Without X-Forwarded-For the trusted proxy itself is the client: not in the list.
  assert.equal((await send(`${gw.url}/allow`)).status, 403);
});
