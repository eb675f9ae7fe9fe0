// A reload is a transaction: a config that fails any check changes nothing in the
// running gateway, and the config after it is applied as if the bad one never came.
// Regressions: a refused reload used to have already moved traffic to the new
// instances (the registry was synced before server.trusted_proxies was checked), and a
// refused auth.public_key used to leave a closed authenticator in force for good.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportSPKI } from 'jose';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { AUDIENCE, ISSUER, issueToken, type SigningKey, signingKey } from '../helpers/jwt-issuer.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

/** These tests reload by hand; a watcher could read a half-written file. */
const NO_WATCH = { watch: false };

let one: TestUpstream;
let two: TestUpstream;

before(async () => {
  [one, two] = await Promise.all([
    startUpstream((_req, res) => res.end('one')),
    startUpstream((_req, res) => res.end('two')),
  ]);
});

after(async () => {
  await Promise.all([one.close(), two.close()]);
});

const body = async (url: string, headers?: Record<string, string>) => {
  const response = await send(url, { headers });
  return `${response.status} ${response.body.toString()}`;
};

test('a reload that changes instances and carries a bad trusted_proxies entry changes nothing', async () => {
  const gw: TestGateway = await startTestGateway(
    {
      server: { trusted_proxies: ['10.0.0.0/8'] },
      services: { s: { url: one.url } },
      routes: [{ path: '/', service: 's' }],
    },
    NO_WATCH,
  );
  try {
    assert.equal(await body(`${gw.url}/x`), '200 one');

    // Same service, new instance, bad entry: the schema lets it through, compile does not.
    await gw.writeConfig({
      server: { trusted_proxies: ['10.0.0.0/8', '10.0.0.0/33'] },
      services: { s: { url: two.url } },
      routes: [{ path: '/', service: 's' }],
    });
    const refused = await gw.gateway.reload();
    assert.equal(refused.ok, false);
    assert.match(refused.errors?.join('\n') ?? '', /gateway\.yaml:\d+: server\.trusted_proxies\.1: .*prefix/);
    for (let i = 0; i < 3; i++) assert.equal(await body(`${gw.url}/x`), '200 one');
    assert.deepEqual(
      gw.gateway.config.server.trusted_proxies,
      ['10.0.0.0/8'],
      'the running config stays in force',
    );

    // The service removed and its route pointed at another one, with a bad address.
    await gw.writeConfig({
      server: { trusted_proxies: ['300.1.2.3'] },
      services: { other: { url: two.url } },
      routes: [{ path: '/', service: 'other' }],
    });
    assert.equal((await gw.gateway.reload()).ok, false);
    assert.equal(await body(`${gw.url}/x`), '200 one');
    assert.deepEqual(
      Object.keys(await (await fetch(`${gw.adminUrl}/status`)).json().then((s) => s.services)),
      ['s'],
    );

    // The same change without the bad entry is applied.
    await gw.writeConfig({
      server: { trusted_proxies: ['10.0.0.0/8'] },
      services: { other: { url: two.url } },
      routes: [{ path: '/', service: 'other' }],
    });
    assert.equal((await gw.gateway.reload()).ok, true);
    assert.equal(await body(`${gw.url}/x`), '200 two');
  } finally {
    await gw.close();
  }
});

test('a reload to a bad auth.public_key is refused, auth keeps working, and the old file reloads fine', async () => {
  const key: SigningKey = await signingKey('k1');
  const pem = await exportSPKI(key.publicKey);
  const token = await issueToken({ key });
  const configWith = (publicKey: string) => ({
    services: { s: { url: one.url } },
    routes: [
      { path: '/secure', service: 's' },
      { path: '/open', service: 's', auth: 'none' },
    ],
    auth: { mode: 'jwt', public_key: publicKey, issuer: ISSUER, audience: AUDIENCE },
  });
  const gw = await startTestGateway(configWith(pem), NO_WATCH);
  const bearer = { authorization: `Bearer ${token}` };
  try {
    assert.equal(await body(`${gw.url}/secure`, bearer), '200 one');
    assert.match(await body(`${gw.url}/secure`), /^401 /);

    await gw.writeConfig(configWith('not a pem'));
    const refused = await gw.gateway.reload();
    assert.equal(refused.ok, false);
    assert.match(
      refused.errors?.join('\n') ?? '',
      /gateway\.yaml:\d+: auth\.public_key: not a PEM public key/,
    );
    assert.equal(await body(`${gw.url}/secure`, bearer), '200 one');
    assert.match(await body(`${gw.url}/secure`), /^401 /);
    assert.equal(await body(`${gw.url}/open`), '200 one');

    // A key the configured algorithms cannot use is refused the same way.
    const ed = await signingKey('k2', 'EdDSA');
    await gw.writeConfig(configWith(await exportSPKI(ed.publicKey)));
    const wrongType = await gw.gateway.reload();
    assert.equal(wrongType.ok, false);
    assert.match(wrongType.errors?.join('\n') ?? '', /auth\.public_key: .*none of auth\.algorithms/);
    assert.equal(await body(`${gw.url}/secure`, bearer), '200 one');

    await gw.writeConfig(configWith(pem));
    assert.equal((await gw.gateway.reload()).ok, true);
    assert.equal(await body(`${gw.url}/secure`, bearer), '200 one');
    assert.match(await body(`${gw.url}/secure`), /^401 /);
  } finally {
    await gw.close();
  }
});

test('a request pinned to the old snapshot finishes with its rules after a reload removed its service', async () => {
  // An auth service that holds each verification until the test lets it answer, so
  // the reload lands while a request is between ingress and forwarding.
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let verifyCalls = 0;
  const auth = createServer((_req, res) => {
    verifyCalls++;
    void gate.then(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ user_id: 'alice', roles: [] }));
    });
  });
  auth.listen(0, '127.0.0.1');
  await once(auth, 'listening');
  const verifyUrl = `http://127.0.0.1:${(auth.address() as AddressInfo).port}/verify`;
  const configFor = (service: string, upstream: TestUpstream) => ({
    services: { [service]: { url: upstream.url } },
    routes: [{ path: '/', service }],
    auth: { mode: 'remote', verify_url: verifyUrl, cache_ttl: '1s' },
  });
  const gw = await startTestGateway(configFor('old', one), NO_WATCH);
  try {
    const pinned = send(`${gw.url}/x`, { headers: { authorization: 'Bearer pinned' } });
    for (let i = 0; i < 200 && verifyCalls === 0; i++) await sleep(10);
    assert.equal(verifyCalls, 1, 'the request is waiting for its verification');

    await gw.writeConfig(configFor('new', two));
    assert.equal((await gw.gateway.reload()).ok, true);
    assert.equal(await retiringSnapshots(gw), 1, 'the old snapshot is pinned');
    open();
    const answer = await pinned;
    assert.equal(`${answer.status} ${answer.body}`, '200 one', 'the old snapshot still reaches its service');
    const later = await send(`${gw.url}/x`, { headers: { authorization: 'Bearer later' } });
    assert.equal(`${later.status} ${later.body}`, '200 two');
    // Released by its last request, the old snapshot's service is retired: its pool closes.
    for (let i = 0; i < 200 && (await connectionsOf(one)) > 0; i++) await sleep(10);
    assert.equal(await connectionsOf(one), 0, 'the removed service closed its connections');
    assert.equal(await retiringSnapshots(gw), 0);
  } finally {
    await gw.close();
    auth.closeAllConnections();
    auth.close();
  }
});

async function retiringSnapshots(gw: TestGateway): Promise<number> {
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  return Number(/^gatehouse_config_snapshots_retiring (\d+)$/m.exec(text)?.[1]);
}

function connectionsOf(upstream: TestUpstream): Promise<number> {
  return new Promise((resolve, reject) =>
    upstream.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

test('a reload that changes listener settings applies the rest and names what needs a restart', async () => {
  const gw = await startTestGateway(
    { services: { s: { url: one.url } }, routes: [{ path: '/', service: 's' }] },
    NO_WATCH,
  );
  try {
    await gw.writeConfig({
      server: { max_connections: 50 },
      log: { level: 'warn' },
      services: { s: { url: two.url } },
      routes: [{ path: '/', service: 's' }],
    });
    const result = await gw.gateway.reload();
    assert.equal(result.ok, true);
    assert.deepEqual(result.restartRequired, ['server.max_connections', 'log']);
    assert.equal(await body(`${gw.url}/x`), '200 two');
    assert.equal(gw.gateway.logger.level, 'info', 'the log level needs a restart');
    const line = gw.logs().find((entry) => entry.msg === 'configuration reloaded');
    assert.deepEqual(line?.restart_required, ['server.max_connections', 'log']);
  } finally {
    await gw.close();
  }
});

test('a reload after shutdown is refused instead of creating what nobody would close', async () => {
  const gw = await startTestGateway(
    {
      services: { s: { url: one.url } },
      routes: [{ path: '/', service: 's' }],
      rate_limit: { store: 'memory' },
    },
    NO_WATCH,
  );
  await gw.gateway.shutdown();
  await gw.writeConfig({
    services: { s: { url: two.url } },
    routes: [{ path: '/', service: 's' }],
    rate_limit: { store: 'memory', max_clients: 10 },
  });
  const result = await gw.gateway.reload();
  assert.equal(result.ok, false);
  assert.match(result.errors?.join('\n') ?? '', /shutting down/);
  await gw.close();
});
