// Property: whatever sequence of valid and invalid configs is reloaded, the gateway
// behaves exactly as the last valid one says (which upstream answers which route,
// whether auth is required). The sequence comes from a printed seed; set
// GATEHOUSE_PROPERTY_SEED to replay a run.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { exportSPKI } from 'jose';
import { startTestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { AUDIENCE, ISSUER, issueToken, signingKey } from '../helpers/jwt-issuer.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const STEPS = 16;
const UPSTREAMS = ['one', 'two', 'three'] as const;
const SERVICES = ['a', 'b', 'c'] as const;
const ROUTES = ['/r1', '/r2'] as const;

type Upstream = (typeof UPSTREAMS)[number];

/** What a valid config means for traffic: the model the gateway is compared with. */
interface Model {
  readonly services: Readonly<Record<string, Upstream>>;
  readonly routes: Readonly<Record<string, string>>;
  readonly auth: boolean;
  readonly trustedProxies: readonly string[];
}

/** Ways to spoil a valid config that only compile, the schema or the YAML parser catch. */
const SPOILERS = ['trusted_proxies', 'public_key', 'unknown_service', 'schemeless_url', 'yaml'] as const;

/** mulberry32: a small seeded PRNG, so a failing sequence can be replayed from its seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let upstreams: Record<Upstream, TestUpstream>;

before(async () => {
  const started = await Promise.all(UPSTREAMS.map((name) => startUpstream((_req, res) => res.end(name))));
  upstreams = Object.fromEntries(UPSTREAMS.map((name, i) => [name, started[i]])) as typeof upstreams;
});

after(async () => {
  await Promise.all(Object.values(upstreams).map((upstream) => upstream.close()));
});

test('after any sequence of valid and invalid reloads, traffic follows the last valid config', async (t) => {
  const seed = Number(process.env.GATEHOUSE_PROPERTY_SEED ?? Math.floor(Math.random() * 2 ** 31));
  t.diagnostic(`seed ${seed} (GATEHOUSE_PROPERTY_SEED=${seed} replays this run)`);
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];

  const key = await signingKey('k');
  const pem = await exportSPKI(key.publicKey);
  const bearer = { authorization: `Bearer ${await issueToken({ key })}` };

  const randomModel = (): Model => {
    const names = SERVICES.filter(() => random() < 0.7);
    if (names.length === 0) names.push(pick(SERVICES));
    return {
      services: Object.fromEntries(names.map((name) => [name, pick(UPSTREAMS)])),
      routes: Object.fromEntries(ROUTES.map((path) => [path, pick(names)])),
      auth: random() < 0.5,
      trustedProxies: random() < 0.5 ? ['10.0.0.0/8'] : [],
    };
  };
  const configOf = (model: Model): Record<string, unknown> => ({
    server: { trusted_proxies: [...model.trustedProxies] },
    services: Object.fromEntries(
      Object.entries(model.services).map(([name, upstream]) => [name, { url: upstreams[upstream].url }]),
    ),
    routes: Object.entries(model.routes).map(([path, service]) => ({ path, service })),
    ...(model.auth ? { auth: { mode: 'jwt', public_key: pem, issuer: ISSUER, audience: AUDIENCE } } : {}),
  });

  const assertBehaves = async (model: Model, context: string) => {
    for (const path of ROUTES) {
      const answer = model.services[model.routes[path]];
      const anonymous = await send(`${gw.url}${path}`);
      if (model.auth) {
        assert.equal(anonymous.status, 401, `${context}: ${path} without a token`);
        const authed = await send(`${gw.url}${path}`, { headers: bearer });
        assert.equal(`${authed.status} ${authed.body}`, `200 ${answer}`, `${context}: ${path} with a token`);
      } else {
        assert.equal(`${anonymous.status} ${anonymous.body}`, `200 ${answer}`, `${context}: ${path}`);
      }
    }
  };

  let model = randomModel();
  // No file watcher: it could read a half-written file that happens to be a valid config.
  const gw = await startTestGateway(configOf(model), { watch: false });
  try {
    await assertBehaves(model, `seed ${seed}, start`);
    for (let step = 1; step <= STEPS; step++) {
      const next = randomModel();
      const valid = random() < 0.5;
      const context = `seed ${seed}, step ${step} (${valid ? 'valid' : 'invalid'})`;
      if (valid) {
        await gw.writeConfig(configOf(next));
      } else {
        const spoiler = pick(SPOILERS);
        const config = configOf(next) as {
          server: { trusted_proxies: string[] };
          services: Record<string, { url: string }>;
          routes: { path: string; service: string }[];
          auth?: Record<string, unknown>;
        };
        if (spoiler === 'yaml') {
          await writeFile(gw.configFile, 'services:\n  a: { url: http://127.0.0.1:1\n');
        } else {
          if (spoiler === 'trusted_proxies') config.server.trusted_proxies.push('10.0.0.0/33');
          if (spoiler === 'public_key')
            config.auth = { mode: 'jwt', public_key: 'not a pem', issuer: ISSUER, audience: AUDIENCE };
          if (spoiler === 'unknown_service') config.routes[0].service = 'nobody';
          if (spoiler === 'schemeless_url') Object.values(config.services)[0].url = '127.0.0.1:3001';
          await gw.writeConfig(config);
        }
      }
      const result = await gw.gateway.reload();
      assert.equal(result.ok, valid, `${context}: ${result.errors?.join('; ')}`);
      if (valid) model = next;
      await assertBehaves(model, context);
    }
  } finally {
    await gw.close();
  }
});
