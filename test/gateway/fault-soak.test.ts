// Defects found by long runs under steady traffic with injected faults (scripts/soak.ts,
// docs/OPERATIONS.md "Soak runs"), each shown here with real processes in a few seconds.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type TestContext, test } from 'node:test';
import { getHeapSnapshot } from 'node:v8';
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
/** A gateway with remote auth, two failed verifications per client address and no retries, and its stub. */
async function startBudgetedAuth(
  t: TestContext,
  stubOptions: Parameters<typeof startAuthStub>[0],
  timeout: string,
) {
  const [stub, upstream] = await Promise.all([startAuthStub(stubOptions), startUpstream()]);
  const gw = await startTestGateway({
    services: { app: { url: upstream.url } },
    routes: [{ path: '/secure', service: 'app', auth: 'required' }],
    auth: {
      mode: 'remote',
      verify_url: stub.verifyUrl,
      timeout,
      retries: 0,
      failed_per_client: 2,
      max_calls_per_second: 100,
    },
  });
  t.after(async () => {
    await gw.close();
    await Promise.all([stub.close(), upstream.close()]);
  });
  return { stub, gw };
}

test('failed_per_client: verifications still pending never make 429 (slow auth service)', async (t) => {
  const { stub, gw } = await startBudgetedAuth(t, { answerDelayMs: 300 }, '2s');
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
  const { stub, gw } = await startBudgetedAuth(t, {}, '300ms');
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

/** Live objects of a class in this process's heap (a heap snapshot, so only what is reachable). */
async function liveObjects(className: string): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const chunk of getHeapSnapshot()) chunks.push(chunk as Buffer);
  const snapshot = JSON.parse(Buffer.concat(chunks).toString()) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snapshot.snapshot.meta.node_fields;
  const typeOf = fields.indexOf('type');
  const nameOf = fields.indexOf('name');
  const objectType = snapshot.snapshot.meta.node_types[0].indexOf('object');
  let count = 0;
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    if (
      snapshot.nodes[i + typeOf] === objectType &&
      snapshot.strings[snapshot.nodes[i + nameOf]] === className
    )
      count++;
  }
  return count;
}

// Seen in the soak: heap after GC grew by about 45 KB per reload that changed the auth
// section, without bound. Each replaced authenticator stayed reachable from the next
// one: its onVerifyCall callback was created in the registry function that also held
// the list of replaced components, and V8 keeps one context per function for all its
// closures, so every authenticator kept the one before it (its closed undici pool, its
// caches, its breaker) alive, all the way back to the first.
test('reloads that replace the authenticator free the old one (no chain of retired authenticators)', async (t) => {
  const [stub, upstream] = await Promise.all([startAuthStub(), startUpstream()]);
  const config = (reload: number) => ({
    services: { app: { url: upstream.url } },
    routes: [{ path: '/secure', service: 'app', auth: 'required' }],
    auth: { mode: 'remote', verify_url: stub.verifyUrl, cache_ttl: `${10 + reload}s` },
  });
  const gw = await startTestGateway(config(0), { watch: false });
  t.after(async () => {
    await gw.close();
    await Promise.all([stub.close(), upstream.close()]);
  });
  // The verify client is an undici Pool per authenticator: count those alive.
  const reloads = async (from: number, to: number) => {
    for (let reload = from; reload < to; reload++) {
      await gw.writeConfig(config(reload));
      assert.equal((await gw.gateway.reload()).ok, true);
    }
    // Retired components close once the snapshot's requests end (none here): give it a moment.
    await new Promise((resolve) => setTimeout(resolve, 200));
  };
  await reloads(1, 4);
  const before = await liveObjects('Pool');
  await reloads(4, 44);
  const after = await liveObjects('Pool');
  assert.ok(after - before <= 2, `undici pools alive: ${before} after 3 reloads, ${after} after 43`);
});
