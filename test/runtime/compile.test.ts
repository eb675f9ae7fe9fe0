// compile(config) -> Plan: every check past the schema, each problem with its path and
// line, all reported together, and nothing started while checking.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { ConfigError, parseConfig } from '../../src/config/load.ts';
import { compile } from '../../src/runtime/compile.ts';

const rsaPem = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
  type: 'spki',
  format: 'pem',
}) as string;
const edPem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;

const base = {
  services: { s: { url: 'http://127.0.0.1:3001' } },
  routes: [{ path: '/', service: 's' }],
};

async function problemsOf(config: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) {
  const loaded = parseConfig(stringify(config), 'gateway.yaml', env);
  try {
    await compile(loaded.config, loaded.source);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems.map((p) => ({ path: p.path, line: p.line, variable: p.variable }));
  }
  return [];
}

test('a valid config compiles to a frozen plan, starting nothing', async () => {
  const before = process.getActiveResourcesInfo().length;
  const loaded = parseConfig(
    stringify({
      ...base,
      server: { trusted_proxies: ['10.0.0.0/8', '::1'] },
      auth: { mode: 'jwt', public_key: rsaPem },
      rate_limit: { store: 'redis', redis_url: 'redis://127.0.0.1:6379' },
    }),
    'gateway.yaml',
  );
  const plan = await compile(loaded.config, loaded.source);
  assert.ok(Object.isFrozen(plan));
  assert.equal(plan.config, loaded.config);
  assert.equal(plan.resolveClientIp('10.1.2.3', { 'x-forwarded-for': '203.0.113.9' }), '203.0.113.9');
  assert.equal(process.getActiveResourcesInfo().length, before, 'no socket, timer or handle was opened');
});

test('bad trusted_proxies entries are named by index and line', async () => {
  const problems = await problemsOf({
    ...base,
    server: { trusted_proxies: ['10.0.0.0/8', '10.0.0.0/33', '1.2.3.400', '::ffff:10.0.0.0/64'] },
  });
  assert.deepEqual(
    problems.map((p) => p.path),
    ['server.trusted_proxies.1', 'server.trusted_proxies.2', 'server.trusted_proxies.3'],
  );
  assert.ok(problems.every((p) => typeof p.line === 'number' && p.line > 1));
});

test('auth.public_key: not a PEM, or a key none of the algorithms can use', async () => {
  assert.deepEqual(await problemsOf({ ...base, auth: { mode: 'jwt', public_key: 'not a pem' } }), [
    { path: 'auth.public_key', line: 9, variable: undefined },
  ]);
  const wrongType = await problemsOf({ ...base, auth: { mode: 'jwt', public_key: edPem } });
  assert.deepEqual(
    wrongType.map((p) => p.path),
    ['auth.public_key'],
  );
  assert.deepEqual(
    await problemsOf({ ...base, auth: { mode: 'jwt', public_key: edPem, algorithms: ['EdDSA'] } }),
    [],
  );
});

test('a problem set by an environment variable names the variable', async () => {
  const problems = await problemsOf(base, { SERVER_TRUSTED_PROXIES: '10.0.0.0/8,10.0.0.0/40' });
  assert.deepEqual(problems, [
    { path: 'server.trusted_proxies.1', line: undefined, variable: 'SERVER_TRUSTED_PROXIES' },
  ]);
});

test('a Redis URL the client could not parse', async () => {
  const problems = await problemsOf({ ...base, rate_limit: { store: 'redis', redis_url: 'redis://[::1' } });
  assert.deepEqual(
    problems.map((p) => p.path),
    ['rate_limit.redis_url'],
  );
});

test('every problem of every section is reported at once', async () => {
  const problems = await problemsOf({
    ...base,
    server: { trusted_proxies: ['10.0.0.0/99'] },
    auth: { mode: 'jwt', public_key: 'nope' },
  });
  assert.deepEqual(
    problems.map((p) => p.path),
    ['server.trusted_proxies.0', 'auth.public_key'],
  );
});
