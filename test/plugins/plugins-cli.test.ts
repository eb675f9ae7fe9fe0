// Plugins through the real CLI (`gatehouse validate` and `gatehouse start`), loading
// the example plugins of examples/plugins/ and the faulty ones of test/plugins/fixtures/.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type RunningGateway, runCli, startCliGateway, writeCliConfig } from '../helpers/cli.ts';
import { send } from '../helpers/http.ts';
import { until } from '../helpers/until.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const examples = (name: string) => fileURLToPath(new URL(`../../examples/plugins/${name}`, import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

let dir: string;
let upstream: TestUpstream;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-plugins-'));
  upstream = await startUpstream();
});
after(async () => {
  await upstream.close();
  await rm(dir, { recursive: true, force: true });
});

test('validate refuses plugin options with their path and line', async () => {
  const file = join(dir, 'bad-options.yaml');
  await writeFile(
    file,
    [
      'services:',
      `  api: { url: ${upstream.url} }`,
      'plugins:',
      '  tenant:',
      `    module: ${examples('tenant.ts')}`,
      '    options:',
      '      tenants:',
      '        - Acme Corp',
      '      extra: true',
      'routes:',
      '  - { path: /api, service: api, policies: [tenant] }',
      '',
    ].join('\n'),
  );
  const { code, stderr } = await runCli(['validate', '--config', file]);
  assert.equal(code, 1, stderr);
  assert.match(
    stderr,
    new RegExp(`${file}:8: plugins\\.tenant\\.options\\.tenants\\.0: a tenant is lower-case`),
  );
  assert.match(stderr, new RegExp(`${file}:9: plugins\\.tenant\\.options\\.extra: unknown key`));
});

test('validate refuses a plugin that throws at load, returns no policy, or is missing', async () => {
  const file = await writeCliConfig(dir, 'broken.yaml', upstream.url, {
    plugins: {
      broken: { module: fixture('throws-at-load.ts') },
      numb: { module: fixture('not-a-policy.ts') },
      gone: { module: './no-such-plugin.ts' },
    },
    routes: [{ path: '/api', service: 'api', policies: ['broken', 'numb', 'gone', 'auth'] }],
  });
  const { code, stderr } = await runCli(['validate', '--config', file]);
  assert.equal(code, 1, stderr);
  assert.match(
    stderr,
    /plugins\.broken\.module: cannot load .*throws-at-load\.ts: cannot reach the tenant directory/,
  );
  assert.match(
    stderr,
    /plugins\.numb\.module: .*not-a-policy\.ts: its factory returned number, not a policy function/,
  );
  assert.match(stderr, /plugins\.gone\.module: cannot load \.\/no-such-plugin\.ts: /);
  // Start refuses the same file.
  const started = await runCli(['start', '--config', file]);
  assert.equal(started.code, 1);
  assert.match(started.stderr, /cannot reach the tenant directory/);
});

test('validate accepts the example plugins', async () => {
  const file = await writeCliConfig(dir, 'examples.yaml', upstream.url, {
    plugins: {
      tenant: { module: examples('tenant.ts'), options: { tenants: ['acme'] } },
      maintenance: { module: examples('maintenance.ts'), options: { flag_file: './maintenance.flag' } },
    },
    routes: [{ path: '/api', service: 'api', policies: ['maintenance', 'tenant'] }],
  });
  const { code, stdout, stderr } = await runCli(['validate', '--config', file]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /valid/);
});

test('through a running gateway: headers, local answers, contained failures, deadlines, reload', async (t) => {
  const stamp = join(dir, 'stamp.ts');
  const writeStamp = (version: string) =>
    writeFile(
      stamp,
      `export default () => (request) => { request.setResponseHeader('x-stamp', '${version}'); };\n`,
    );
  await writeStamp('v1');
  const flag = join(dir, 'maintenance.flag');
  const file = await writeCliConfig(dir, 'gateway.yaml', upstream.url, {
    plugins: {
      tenant: { module: examples('tenant.ts'), options: { tenants: ['acme', 'globex'] } },
      maintenance: { module: examples('maintenance.ts'), options: { flag_file: flag, retry_after: 30 } },
      fails: { module: fixture('fails.ts') },
      hangs: { module: fixture('hangs.ts'), timeout: '300ms' },
      spoof: { module: fixture('forbidden-header.ts') },
      stamp: { module: './stamp.ts' },
    },
    routes: [
      { path: '/tenant', service: 'api', policies: ['maintenance', 'tenant'] },
      { path: '/fails', service: 'api', policies: ['fails'] },
      { path: '/hangs', service: 'api', policies: ['hangs'] },
      { path: '/spoof', service: 'api', policies: ['spoof'] },
      { path: '/stamp', service: 'api', policies: ['stamp'] },
      { path: '/plain', service: 'api' },
    ],
  });
  const gw: RunningGateway = await startCliGateway(file);
  t.after(async () => {
    gw.child.kill('SIGTERM');
    await gw.exited;
  });

  await t.test('a plugin sets an upstream header and a response header', async () => {
    const before = upstream.requests.length;
    const response = await send(`${gw.url}/tenant/orders`, {
      headers: { 'x-tenant': 'acme', 'x-tenant-id': 'spoofed' },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers['x-tenant'], 'acme');
    const seen = upstream.requests[before];
    assert.equal(seen.headers['x-tenant-id'], 'acme', 'the client copy is replaced');
    assert.equal(seen.rawHeaders.filter((name) => name.toLowerCase() === 'x-tenant-id').length, 1);
    const byQuery = await send(`${gw.url}/tenant/orders?tenant=globex`);
    assert.equal(byQuery.headers['x-tenant'], 'globex');
  });

  await t.test("a plugin's own answers and typed errors; the upstream is not called", async () => {
    const before = upstream.requests.length;
    const none = await send(`${gw.url}/tenant/orders`);
    assert.equal(none.status, 400);
    assert.equal(none.json<{ error: { code: string } }>().error.code, 'TENANT_REQUIRED');
    assert.ok(none.headers['x-request-id']);
    const unknown = await send(`${gw.url}/tenant/orders`, { headers: { 'x-tenant': 'initech' } });
    assert.equal(unknown.status, 403);
    assert.equal(unknown.json<{ error: { code: string } }>().error.code, 'FORBIDDEN');
    await writeFile(flag, '');
    const down = await send(`${gw.url}/tenant/orders`, { headers: { 'x-tenant': 'acme' } });
    assert.equal(down.status, 503);
    assert.equal(down.headers['retry-after'], '30');
    const bypass = await send(`${gw.url}/tenant/orders`, {
      headers: { 'x-tenant': 'acme', 'x-maintenance-bypass': '1' },
    });
    assert.equal(bypass.status, 200);
    await rm(flag);
    assert.equal(upstream.requests.length, before + 1, 'only the bypass reached the upstream');
  });

  await t.test(
    'a plugin throwing per request is a 500 with the request id; other routes keep serving',
    async () => {
      const before = upstream.requests.length;
      for (let i = 0; i < 5; i++) {
        const failed = await send(`${gw.url}/fails`, { headers: { 'x-request-id': `fail-${i}` } });
        assert.equal(failed.status, 500);
        const body = failed.json<{ error: { code: string; request_id: string } }>();
        assert.equal(body.error.code, 'INTERNAL_ERROR');
        assert.equal(body.error.request_id, `fail-${i}`);
        assert.equal((await send(`${gw.url}/plain`)).status, 200);
      }
      assert.equal(upstream.requests.length, before + 5, 'only /plain reached the upstream');
      const failureLines = () =>
        gw
          .output()
          .split('\n')
          .filter((line) => line.includes('policy failed unexpectedly'));
      await until(() => failureLines().length > 0, 'the failure is logged');
      const logged = failureLines();
      assert.equal(logged.length, 1, 'logged once per interval');
      assert.match(logged[0], /"policy":"fails"/);
      assert.match(logged[0], /"request_id":"fail-0"/);
    },
  );

  await t.test('a plugin setting a header only the gateway may set is a 500, never forwarded', async () => {
    const before = upstream.requests.length;
    const response = await send(`${gw.url}/spoof`);
    assert.equal(response.status, 500);
    assert.equal(upstream.requests.length, before);
  });

  await t.test('a hanging plugin is cut at its deadline with 503 POLICY_TIMEOUT', async () => {
    const before = upstream.requests.length;
    const started = performance.now();
    const response = await send(`${gw.url}/hangs`);
    assert.equal(response.status, 503);
    assert.equal(response.json<{ error: { code: string } }>().error.code, 'POLICY_TIMEOUT');
    assert.ok(performance.now() - started < 10_000, 'answered at the deadline, not left hanging');
    assert.equal(upstream.requests.length, before);
    assert.equal((await send(`${gw.url}/plain`)).status, 200);
  });

  await t.test('the rejections are counted by route, policy and code', async () => {
    const metrics = (await send(`${gw.adminUrl}/metrics`)).body.toString();
    assert.match(
      metrics,
      /gatehouse_policy_rejections_total\{route="\/fails",policy="fails",code="INTERNAL_ERROR"\} 5/,
    );
    assert.match(
      metrics,
      /gatehouse_policy_rejections_total\{route="\/hangs",policy="hangs",code="POLICY_TIMEOUT"\} 1/,
    );
    assert.match(
      metrics,
      /gatehouse_policy_rejections_total\{route="\/tenant",policy="tenant",code="FORBIDDEN"\} 1/,
    );
    assert.match(
      metrics,
      /gatehouse_policy_rejections_total\{route="\/tenant",policy="tenant",code="400"\} 1/,
    );
  });

  await t.test('a reload picks up a changed plugin file', async () => {
    assert.equal((await send(`${gw.url}/stamp`)).headers['x-stamp'], 'v1');
    await writeStamp('v2');
    const reloaded = await send(`${gw.adminUrl}/reload`, { method: 'POST' });
    assert.equal(reloaded.status, 200, reloaded.body.toString());
    assert.equal((await send(`${gw.url}/stamp`)).headers['x-stamp'], 'v2');
  });
});
