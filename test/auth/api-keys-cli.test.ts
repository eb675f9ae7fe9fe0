// API keys, roles and a rate limit placed before auth, through the real CLI.
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { hashKey } from '../../src/auth/api-keys.ts';
import { type AuthStub, startAuthStub } from '../helpers/auth-stub.ts';
import { runCli, startCliGateway, writeCliConfig } from '../helpers/cli.ts';
import { send } from '../helpers/http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let dir: string;
let upstream: TestUpstream;
let stub: AuthStub;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-keys-'));
  upstream = await startUpstream();
  stub = await startAuthStub({ tokens: { 'good-token': { user_id: 'alice', roles: ['viewer'] } } });
});
after(async () => {
  await upstream.close();
  await stub.close();
  await rm(dir, { recursive: true, force: true });
});

const consumers = (reportsKey: string) => ({
  consumers: [
    {
      name: 'billing',
      key_sha256: hashKey('billing-key'),
      roles: ['viewer'],
      rate_limit: { per_client: 0.1, per_client_burst: 2 },
    },
    { name: 'ops', key_sha256: hashKey('ops-key'), roles: ['admin'] },
    { name: 'reports', key_sha256: hashKey(reportsKey), roles: ['viewer'] },
  ],
});

/** Writes like an editor: a new file renamed over the old one. */
async function writeKeys(file: string, content: unknown): Promise<void> {
  await writeFile(`${file}.tmp`, stringify(content));
  await rename(`${file}.tmp`, file);
}

const codeOf = (response: { json<T>(): T }) => response.json<{ error: { code: string } }>().error.code;

test('gatehouse hash-key prints the SHA-256 of stdin, without its trailing newline', async () => {
  const { code, stdout: out } = await runCli(['hash-key'], {}, 's3cret-key\n');
  assert.equal(code, 0);
  assert.equal(out, `${hashKey('s3cret-key')}\n`);
  assert.match(out, /^[0-9a-f]{64}\n$/);
});

test('validate refuses a keys file it could not use, with the line', async () => {
  const keys = join(dir, 'bad-keys.yaml');
  await writeFile(keys, 'consumers:\n  - name: billing\n    key_sha256: not-a-hash\n');
  const file = await writeCliConfig(dir, 'bad-keys-gateway.yaml', upstream.url, {
    api_keys: { keys_file: 'bad-keys.yaml' },
    routes: [{ path: '/api', service: 'api' }],
  });
  const { code, stderr } = await runCli(['validate', '--config', file]);
  assert.equal(code, 1);
  assert.match(
    stderr,
    /api_keys\.keys_file: .*bad-keys\.yaml:3: consumers\.0\.key_sha256: expected the SHA-256/,
  );
});

test('API keys through a running gateway', async (t) => {
  const keys = join(dir, 'keys.yaml');
  await writeKeys(keys, consumers('reports-key-1'));
  const file = await writeCliConfig(dir, 'keys-gateway.yaml', upstream.url, {
    api_keys: { keys_file: 'keys.yaml' },
    rate_limit: { global: 1000, global_burst: 1000, per_client: 1000, per_client_burst: 1000 },
    routes: [
      { path: '/api', service: 'api' },
      { path: '/admin', service: 'api', roles: ['admin'] },
    ],
  });
  const gw = await startCliGateway(file);
  t.after(async () => {
    gw.child.kill('SIGTERM');
    await gw.exited;
  });

  await t.test("a known key is admitted with its consumer's identity; the key is not forwarded", async () => {
    const response = await send(`${gw.url}/api/x`, {
      headers: { 'x-api-key': 'ops-key', 'x-user-id': 'root' },
    });
    assert.equal(response.status, 200);
    const seen = upstream.requests.at(-1)!;
    assert.equal(seen.headers['x-user-id'], 'ops');
    assert.equal(seen.headers['x-user-roles'], 'admin');
    assert.equal(seen.headers['x-api-key'], undefined);
    assert.ok(!gw.output().includes('ops-key'), 'the key is never logged');
  });

  await t.test("a consumer's own rate limit applies to it", async () => {
    const first = await send(`${gw.url}/api/x`, { headers: { 'x-api-key': 'billing-key' } });
    assert.equal(first.status, 200);
    assert.equal(first.headers['ratelimit-limit'], '2', 'its bucket is the tightest');
    assert.equal((await send(`${gw.url}/api/x`, { headers: { 'x-api-key': 'billing-key' } })).status, 200);
    const limited = await send(`${gw.url}/api/x`, { headers: { 'x-api-key': 'billing-key' } });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.equal((await send(`${gw.url}/api/x`, { headers: { 'x-api-key': 'ops-key' } })).status, 200);
  });

  await t.test('a wrong, missing or repeated key is 401; the upstream is not called', async () => {
    const before = upstream.requests.length;
    const wrong = await send(`${gw.url}/api/x`, { headers: { 'x-api-key': 'guessed' } });
    assert.equal(wrong.status, 401);
    assert.equal(codeOf(wrong), 'UNAUTHORIZED');
    assert.match(
      String(wrong.headers['www-authenticate']),
      /^ApiKey header="x-api-key", error="invalid_key"$/,
    );
    assert.equal((await send(`${gw.url}/api/x`)).status, 401);
    assert.equal(
      (await send(`${gw.url}/api/x`, { headers: { 'x-api-key': ['ops-key', 'guessed'] } })).status,
      401,
    );
    assert.equal(upstream.requests.length, before);
  });

  await t.test('a missing role is 403 FORBIDDEN without calling the upstream', async () => {
    const before = upstream.requests.length;
    const denied = await send(`${gw.url}/admin/users`, { headers: { 'x-api-key': 'reports-key-1' } });
    assert.equal(denied.status, 403);
    assert.equal(codeOf(denied), 'FORBIDDEN');
    assert.equal(upstream.requests.length, before);
    assert.equal((await send(`${gw.url}/admin/users`, { headers: { 'x-api-key': 'ops-key' } })).status, 200);
  });

  await t.test('a key rotated in the keys file works without a restart; the old one stops', async () => {
    await writeKeys(keys, consumers('reports-key-2'));
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await send(`${gw.url}/api/x`, { headers: { 'x-api-key': 'reports-key-2' } })).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(status, 200, 'the new key is admitted');
    assert.equal((await send(`${gw.url}/api/x`, { headers: { 'x-api-key': 'reports-key-1' } })).status, 401);
    assert.equal(gw.child.exitCode, null, 'the same process');
  });
});

test('with both sections, auth: required takes a bearer token or an API key', async (t) => {
  const keys = join(dir, 'both-keys.yaml');
  await writeKeys(keys, consumers('reports-key'));
  const file = await writeCliConfig(dir, 'both-gateway.yaml', upstream.url, {
    auth: { verify_url: stub.verifyUrl, retries: 0 },
    api_keys: { keys_file: 'both-keys.yaml' },
    rate_limit: { global: 1000, global_burst: 1000, per_client: 1000, per_client_burst: 1000 },
    routes: [{ path: '/api', service: 'api' }],
  });
  const gw = await startCliGateway(file);
  t.after(async () => {
    gw.child.kill('SIGTERM');
    await gw.exited;
  });
  const byToken = await send(`${gw.url}/api/x`, { headers: { authorization: 'Bearer good-token' } });
  assert.equal(byToken.status, 200);
  assert.equal(upstream.requests.at(-1)!.headers['x-user-id'], 'alice');
  const byKey = await send(`${gw.url}/api/x`, { headers: { 'x-api-key': 'reports-key' } });
  assert.equal(byKey.status, 200);
  assert.equal(upstream.requests.at(-1)!.headers['x-user-id'], 'reports');
  const none = await send(`${gw.url}/api/x`);
  assert.equal(none.status, 401);
  assert.match(String(none.headers['www-authenticate']), /^Bearer/);
});

test('a rate limit placed before auth refuses a flood without calling the auth service', async (t) => {
  const file = await writeCliConfig(dir, 'flood-gateway.yaml', upstream.url, {
    auth: { verify_url: stub.verifyUrl, retries: 0, negative_cache_ttl: '1ms' },
    rate_limit: { global: 1000, global_burst: 1000, per_client: 1000, per_client_burst: 1000 },
    routes: [
      {
        path: '/login',
        service: 'api',
        rate_limit: { per_client: 0.1, per_client_burst: 3, key: 'ip' },
        policies: ['rate_limit', 'auth'],
      },
    ],
  });
  const gw = await startCliGateway(file);
  t.after(async () => {
    gw.child.kill('SIGTERM');
    await gw.exited;
  });
  stub.resetCalls();
  const statuses: number[] = [];
  for (let i = 0; i < 20; i++) {
    statuses.push((await send(`${gw.url}/login`, { headers: { authorization: `Bearer bad-${i}` } })).status);
  }
  assert.deepEqual(statuses.slice(0, 3), [401, 401, 401]);
  assert.deepEqual(new Set(statuses.slice(3)), new Set([429]));
  assert.equal(stub.calls, 3, 'only the requests within the burst reached the auth service');
  const metrics = (await send(`${gw.adminUrl}/metrics`)).body.toString();
  assert.match(
    metrics,
    /gatehouse_policy_rejections_total\{route="\/login",policy="rate_limit",code="RATE_LIMITED"\} 17/,
  );
  assert.match(
    metrics,
    /gatehouse_policy_rejections_total\{route="\/login",policy="auth",code="UNAUTHORIZED"\} 3/,
  );
});
