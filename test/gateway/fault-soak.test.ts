// Defects found by long runs under steady traffic with injected faults (scripts/soak.ts,
// docs/OPERATIONS.md "Soak runs"), each shown here with real processes in a few seconds.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { startAuthStub } from '../helpers/auth-stub.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { startUpstream } from '../helpers/upstream.ts';

// Seen in the soak: while the auth service hung, one client address (all the load came
// from one address, like users behind a NAT or a backend-for-frontend) got 429
// RATE_LIMITED for valid tokens. auth.failed_per_client reserves a token before each
// verify call and gives it back only once the call ends without a refusal, so calls
// still pending (a slow or hanging auth service) spent the address's share, and the
// next new token was answered 429 as if the client had sent bad tokens.
test('failed_per_client: verifications still pending never make 429 (slow auth service)', async (t) => {
  const [stub, upstream] = await Promise.all([startAuthStub({ answerDelayMs: 300 }), startUpstream()]);
  const gw = await startTestGateway({
    services: { app: { url: upstream.url } },
    routes: [{ path: '/secure', service: 'app', auth: 'required' }],
    auth: {
      mode: 'remote',
      verify_url: stub.verifyUrl,
      timeout: '2s',
      retries: 0,
      failed_per_client: 2,
      max_calls_per_second: 100,
    },
  });
  t.after(async () => {
    await gw.close();
    await Promise.all([stub.close(), upstream.close()]);
  });
  // Eight users behind one address log in at once with good tokens; the service takes 300 ms.
  const tokens = Array.from({ length: 8 }, (_, i) => {
    const token = `good-${i}-${randomBytes(6).toString('hex')}`;
    stub.addToken(token, { user_id: `user-${i}` });
    return token;
  });
  const responses = await Promise.all(
    tokens.map((token) => send(`${gw.url}/secure`, { headers: { authorization: `Bearer ${token}` } })),
  );
  assert.deepEqual(
    responses.map((response) => response.status),
    tokens.map(() => 200),
    responses.map((response) => response.body.toString()).join('\n'),
  );
});

test('failed_per_client: a hanging auth service is 503 AUTH_UNAVAILABLE for every new token, never 429', async (t) => {
  const [stub, upstream] = await Promise.all([startAuthStub(), startUpstream()]);
  const gw = await startTestGateway({
    services: { app: { url: upstream.url } },
    routes: [{ path: '/secure', service: 'app', auth: 'required' }],
    auth: {
      mode: 'remote',
      verify_url: stub.verifyUrl,
      timeout: '300ms',
      retries: 0,
      failed_per_client: 2,
      max_calls_per_second: 100,
    },
  });
  t.after(async () => {
    await gw.close();
    await Promise.all([stub.close(), upstream.close()]);
  });
  await stub.setMode('hang');
  const started = performance.now();
  const responses = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      send(`${gw.url}/secure`, {
        headers: { authorization: `Bearer hung-${i}-${randomBytes(6).toString('hex')}` },
      }),
    ),
  );
  const elapsed = performance.now() - started;
  for (const response of responses) {
    assert.equal(response.status, 503, response.body.toString());
    assert.equal(response.json<{ error: { code: string } }>().error.code, 'AUTH_UNAVAILABLE');
  }
  // Fail closed within a bound: a wait for the address's pending calls, then one call of its own.
  assert.ok(elapsed < 2 * 300 + 1500, `answered after ${Math.round(elapsed)} ms`);
});
