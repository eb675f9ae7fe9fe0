import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli } from './helpers/cli.ts';
import { startTestGateway } from './helpers/gateway.ts';
import { send } from './helpers/http.ts';
import { refusedPort, startUpstream } from './helpers/upstream.ts';

async function write(text: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'gatehouse-cli-')), 'gateway.yaml');
  await writeFile(file, text);
  return file;
}

test('validate names every problem with its line and exits 1', async () => {
  const file = await write(
    'services:\n  users:\n    url: http://127.0.0.1:3001\n    colour: blue\nroutes:\n  - path: /u\n    service: nobody-yet\n    stip_prefix: true\n',
  );
  const result = await runCli(['validate', '--config', file]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /gateway\.yaml:4: services\.users\.colour: unknown key/);
  assert.match(result.stderr, /gateway\.yaml:8: routes\.0\.stip_prefix: unknown key/);
  // Cross-references are checked in the same run, not after the other errors are fixed.
  assert.match(result.stderr, /gateway\.yaml:7: routes\.0\.service: no service named "nobody-yet"/);
});

test('validate exits 0 for a valid config and honours environment overrides', async () => {
  const file = await write(
    'services:\n  users: { url: http://127.0.0.1:3001 }\nroutes: [{ path: /u, service: users }]\n',
  );
  const ok = await runCli(['validate', '--config', file]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /valid/);
  const bad = await runCli(['validate', '--config', file], { SERVER_PORT: 'x' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /env SERVER_PORT: server\.port/);
  const viaEnv = await runCli(['validate'], { GATEHOUSE_CONFIG: file });
  assert.equal(viaEnv.code, 0);
});

test('validate on a missing file, and start on an invalid config, exit 1 without starting', async () => {
  const missing = await runCli(['validate', '--config', '/nonexistent/gateway.yaml']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read the file/);
  const file = await write('services: {}\nroutes: [{ path: /u, service: users }]\n');
  const start = await runCli(['start', '--config', file]);
  assert.equal(start.code, 1);
  assert.match(start.stderr, /not started/);
  assert.match(start.stderr, /routes\.0\.service: no service named "users"/);
});

test('schema prints a JSON Schema editors can use', async () => {
  const result = await runCli(['schema']);
  assert.equal(result.code, 0);
  const schema = JSON.parse(result.stdout);
  assert.equal(schema.type, 'object');
  assert.equal(schema.additionalProperties, false);
  assert.ok(schema.properties.services);
  assert.equal(schema.properties.server.properties.shutdown_timeout.default, '30s');
});

test('unknown commands and flags are usage errors (exit 2)', async () => {
  assert.equal((await runCli(['frobnicate'])).code, 2);
  assert.equal((await runCli(['validate', '--nope'])).code, 2);
});

test('an environment variable wins over the file in a running gateway', async () => {
  const upstream = await startUpstream();
  const gw = await startTestGateway(
    {
      services: { users: { url: `http://127.0.0.1:${await refusedPort()}` } },
      routes: [{ path: '/u', service: 'users' }],
    },
    { env: { SERVICES_USERS_URL: upstream.url } },
  );
  try {
    const response = await send(`${gw.url}/u`);
    assert.equal(response.status, 200);
    assert.equal(upstream.requests.length, 1);
  } finally {
    await gw.close();
    await upstream.close();
  }
});
