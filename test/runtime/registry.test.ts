// GatewayRegistry.componentsFor: unchanged components are reused, changed ones are
// created anew, and what was replaced stays open until the snapshot's retire() runs.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, test } from 'node:test';
import { stringify } from 'yaml';
import type { Authenticator } from '../../src/auth/authenticator.ts';
import { parseConfig } from '../../src/config/load.ts';
import { GatewayRegistry } from '../../src/runtime/registry.ts';
import { silentLogger } from '../helpers/logs.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';
import { eventually } from '../upstream/fixtures.ts';

const publicKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
  type: 'spki',
  format: 'pem',
}) as string;

const upstreams: TestUpstream[] = [];
after(async () => {
  await Promise.all(upstreams.map((upstream) => upstream.close()));
});

function configOf(input: Record<string, unknown>) {
  return parseConfig(stringify(input), 'gateway.yaml').config;
}

/** UNAUTHORIZED from a working authenticator for a token that is not a JWT; AUTH_UNAVAILABLE once closed. */
async function answerOf(authenticator: Authenticator | undefined): Promise<string> {
  try {
    await authenticator!.authenticate('Bearer not-a-jwt');
    return 'passed';
  } catch (error) {
    return (error as { code: string }).code;
  }
}

test('an unchanged auth section keeps its authenticator; a changed one is closed only at retire', async () => {
  const upstream = await startUpstream((_req, res) => res.end('ok'));
  upstreams.push(upstream);
  const registry = new GatewayRegistry(silentLogger, () => undefined);
  const base = {
    services: { s: { url: upstream.url } },
    routes: [{ path: '/', service: 's' }],
  };
  try {
    const first = registry.componentsFor(configOf({ ...base, auth: { mode: 'jwt', public_key: publicKey } }));
    first.retire();
    const same = registry.componentsFor(
      configOf({
        ...base,
        routes: [{ path: '/other', service: 's' }],
        auth: { mode: 'jwt', public_key: publicKey },
      }),
    );
    assert.equal(same.authenticator, first.authenticator, 'routes changed, auth did not: same cache');

    const changed = registry.componentsFor(
      configOf({ ...base, auth: { mode: 'jwt', public_key: publicKey, cache_ttl: '1m' } }),
    );
    assert.notEqual(changed.authenticator, first.authenticator);
    assert.equal(await answerOf(first.authenticator), 'UNAUTHORIZED', 'still serving the old snapshot');
    changed.retire();
    assert.equal(await answerOf(first.authenticator), 'AUTH_UNAVAILABLE', 'closed once retired');
    assert.equal(await answerOf(changed.authenticator), 'UNAUTHORIZED');
  } finally {
    await registry.close();
  }
});

test('a removed service keeps serving its old pools until retire, then closes', async () => {
  const upstream = await startUpstream((_req, res) => res.end('ok'));
  upstreams.push(upstream);
  const registry = new GatewayRegistry(silentLogger, () => undefined);
  try {
    const first = registry.componentsFor(
      configOf({
        services: { gone: { url: upstream.url }, kept: { url: upstream.url } },
        routes: [{ path: '/', service: 'gone' }],
      }),
    );
    const oldPool = first.pools.get('gone')!;
    const instance = oldPool.instances[0];
    const second = registry.componentsFor(
      configOf({ services: { kept: { url: upstream.url } }, routes: [{ path: '/', service: 'kept' }] }),
    );
    assert.deepEqual(Object.keys(registry.upstreams.status()), ['kept']);
    const lease = oldPool.acquire();
    assert.equal(lease.instance, instance, 'the old snapshot still reaches the removed service');
    lease.release('success');
    second.retire();
    assert.throws(() => oldPool.acquire(), { code: 'UPSTREAM_UNAVAILABLE' });
    await eventually(() => instance.pool.closed, 'the removed instance closes its pool');
  } finally {
    await registry.close();
  }
});

test('no components after close: a late reload must not create what nobody closes', async () => {
  const registry = new GatewayRegistry(silentLogger, () => undefined);
  await registry.close();
  assert.throws(
    () => registry.componentsFor(configOf({ services: { s: { url: 'http://127.0.0.1:1' } } })),
    /shutting down/,
  );
});
