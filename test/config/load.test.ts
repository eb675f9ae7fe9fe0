import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.ts';

const minimal = `
services:
  users:
    url: http://127.0.0.1:3001
routes:
  - path: /api/users
    service: users
`;

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}) {
  try {
    parseConfig(text, 'gateway.yaml', env);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('expected the config to be refused');
}

test('a minimal config gets the documented defaults, frozen', () => {
  const { config } = parseConfig(minimal, 'gateway.yaml');
  assert.equal(config.server.port, 8080);
  assert.equal(config.server.body_limit, 10 * 1024 * 1024);
  assert.equal(config.server.shutdown_timeout, 30_000);
  assert.equal(config.admin.host, '127.0.0.1');
  assert.equal(config.services.users.timeout, 30_000);
  assert.deepEqual(config.services.users.circuit_breaker, {
    max_requests: 3,
    interval: 60_000,
    timeout: 30_000,
    failure_ratio: 0.6,
    min_requests: 3,
  });
  assert.equal(config.routes[0].strip_prefix, false);
  assert.ok(Object.isFrozen(config.services.users));
  assert.throws(() => {
    (config.server as { port: number }).port = 1;
  });
});

test('every problem is named with its path and line, not just the first', () => {
  const problems = problemsOf(`
server:
  port: eighty
  bogus: true
services:
  users:
    url: http://127.0.0.1:3001
    timeout: 30
routes:
  - path: /api/users
    service: users
    strip: true
`);
  const byPath = Object.fromEntries(problems.map((p) => [p.path, p]));
  assert.equal(byPath['server.bogus'].message, 'unknown key');
  assert.equal(byPath['server.bogus'].line, 4);
  assert.match(byPath['server.port'].message, /expected number/);
  assert.equal(byPath['server.port'].line, 3);
  assert.match(byPath['services.users.timeout'].message, /expected string/);
  assert.equal(byPath['routes.0.strip'].line, 12);
  assert.equal(problems.length, 4);
});

test('cross-references: unknown service, auth without an auth section, bad durations', () => {
  const problems = problemsOf(`
services:
  users: { url: http://127.0.0.1:3001, timeout: 30 seconds }
  empty: {}
routes:
  - { path: /a, service: nobody }
`);
  const paths = problems.map((p) => p.path);
  assert.ok(paths.includes('services.users.timeout'));
  assert.ok(paths.includes('services.empty'));
  assert.ok(paths.includes('routes.0.service'), 'cross-references are reported with the other errors');
  const second = problemsOf(`
services:
  users: { url: http://127.0.0.1:3001 }
routes:
  - { path: /a, service: nobody }
  - { path: /b, service: users, auth: required }
  - { path: /b/, service: users }
`);
  assert.deepEqual(second.map((p) => p.path).sort(), ['routes.0.service', 'routes.1.auth', 'routes.2.path']);
});

test('service and policy constraints from the schema', () => {
  const problems = problemsOf(`
services:
  a: { instances: [{ url: http://127.0.0.1:1, weight: 0 }] }
  b: { url: http://127.0.0.1:1, urls: [http://127.0.0.1:2] }
  c: { url: ftp://127.0.0.1:1, circuit_breaker: { failure_ratio: 1.5, interval: 0s } }
auth: { mode: jwt }
cors: { allowed_origins: ['*'], allow_credentials: true }
rate_limit: { store: redis, redis_url: http://x }
`);
  const paths = problems.map((p) => p.path).sort();
  assert.deepEqual(paths, [
    'auth.jwks_url',
    'cors.allowed_origins',
    'rate_limit.redis_url',
    'services.a.instances.0.weight',
    'services.b',
    'services.c.circuit_breaker.failure_ratio',
    'services.c.circuit_breaker.interval',
    'services.c.url',
  ]);
});

test('instance URLs: no query, fragment or credentials, and no origin twice', () => {
  const problems = problemsOf(`
services:
  a: { url: 'http://127.0.0.1:1/?x=1' }
  b: { url: 'http://user:pw@127.0.0.1:1' }
  c: { urls: [http://127.0.0.1:1, 'http://127.0.0.1:1/v2'] }
  d: { instances: [{ url: 'http://127.0.0.1:1#frag' }] }
`);
  assert.deepEqual(problems.map((p) => p.path).sort(), [
    'services.a.url',
    'services.b.url',
    'services.c.urls',
    'services.d.instances.0.url',
  ]);
  assert.match(problems.find((p) => p.path === 'services.c.urls')!.message, /listed twice/);
});

test('environment variables override the file and are named in errors', () => {
  const env = {
    SERVER_PORT: '9999',
    SERVICES_USERS_URL: 'http://10.0.0.9:8080',
    RATE_LIMIT_GLOBAL_BURST: '7',
    ROUTES_0_METHODS: 'GET,POST',
    CORS_ALLOWED_ORIGINS: 'https://a.example,https://b.example',
    SERVICES_USERS_HEALTH_CHECK_PATH: '/healthz',
    HOME: '/root',
  };
  const { config, ignoredVariables } = parseConfig(`${minimal}\nrate_limit: {}\n`, 'gateway.yaml', env);
  assert.equal(config.server.port, 9999);
  assert.equal(config.services.users.url, 'http://10.0.0.9:8080');
  assert.equal(config.rate_limit?.global_burst, 7);
  assert.deepEqual(config.routes[0].methods, ['GET', 'POST']);
  assert.deepEqual(config.cors?.allowed_origins, ['https://a.example', 'https://b.example']);
  assert.equal(config.services.users.health_check?.path, '/healthz');
  assert.deepEqual(ignoredVariables, []);

  const problems = problemsOf(minimal, { SERVER_PORT: 'eighty' });
  assert.equal(problems[0].variable, 'SERVER_PORT');
});

test('a service whose name has dashes or underscores is found from its variable', () => {
  const text = `
services:
  user-api: { url: http://127.0.0.1:1 }
  order_svc: { url: http://127.0.0.1:2 }
routes: [{ path: /, service: user-api }]
`;
  const { config, ignoredVariables } = parseConfig(text, 'gateway.yaml', {
    SERVICES_USER_API_TIMEOUT: '5s',
    SERVICES_ORDER_SVC_URL: 'http://127.0.0.1:3',
    SERVER_PROT: '1',
  });
  assert.equal(config.services['user-api'].timeout, 5000);
  assert.equal(config.services.order_svc.url, 'http://127.0.0.1:3');
  assert.deepEqual(ignoredVariables, ['SERVER_PROT']);
});

test('YAML syntax errors and non-mappings are refused with a line', () => {
  const syntax = problemsOf('services:\n  users: [\n');
  assert.ok(syntax[0].line !== undefined);
  assert.match(syntax[0].message, /^YAML/);
  assert.match(problemsOf('- just\n- a list\n')[0].message, /mapping/);
  assert.match(problemsOf('a: 1\na: 2\n')[0].message, /YAML/);
});
