// routes[].policies and routes[].roles: which orders the config accepts, each refusal
// named with its route path and line, like any other config problem.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.ts';

const head = `
services:
  api:
    url: http://127.0.0.1:3001
auth:
  verify_url: http://127.0.0.1:3000/verify
rate_limit: { per_client: 5 }
cors:
  allowed_origins: [https://app.example]
routes:
`;

function problemsOf(routes: string) {
  try {
    parseConfig(head + routes, 'gateway.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems.map((p) => ({ path: p.path, line: p.line, message: p.message }));
  }
  return [];
}

test('the built-in order, a custom one, and rate limit before auth are accepted', () => {
  assert.deepEqual(problemsOf('  - { path: /a, service: api }\n'), []);
  assert.deepEqual(
    problemsOf('  - { path: /a, service: api, roles: [admin], policies: [rate_limit, cors, auth, roles] }\n'),
    [],
  );
  assert.deepEqual(
    problemsOf('  - { path: /a, service: api, auth: none, policies: [cors, rate_limit] }\n'),
    [],
  );
});

test('unknown and repeated names are refused with their index and line', () => {
  const problems = problemsOf(
    '  - path: /a\n    service: api\n    policies: [cors, auth, tenant, rate_limit, cors]\n',
  );
  assert.deepEqual(
    problems.map((p) => [p.path, p.line]),
    [
      ['routes.0.policies.2', 13],
      ['routes.0.policies.4', 13],
    ],
  );
  assert.match(
    problems[0].message,
    /unknown policy "tenant" \(built-ins: cors, ip, auth, roles, rate_limit\)/,
  );
  assert.match(problems[1].message, /listed twice/);
});

test('leaving out a built-in that applies is refused, naming it', () => {
  const [problem] = problemsOf('  - { path: /a, service: api, roles: [admin], policies: [auth, roles] }\n');
  assert.equal(problem.path, 'routes.0.policies');
  assert.match(problem.message, /cors, rate_limit applies to this route but is not listed/);
});

test('roles need auth, and come after it', () => {
  const [before] = problemsOf(
    '  - { path: /a, service: api, roles: [admin], policies: [cors, roles, auth, rate_limit] }\n',
  );
  assert.equal(before.path, 'routes.0.policies.1');
  assert.match(before.message, /roles must come after auth/);
  const [without] = problemsOf('  - { path: /a, service: api, auth: none, roles: [admin] }\n');
  assert.equal(without.path, 'routes.0.roles');
});

test('a per-user rate limit before auth, or without required auth, is refused', () => {
  const [early] = problemsOf(
    '  - { path: /a, service: api, rate_limit: { per_client: 1, key: user }, policies: [cors, rate_limit, auth] }\n',
  );
  assert.equal(early.path, 'routes.0.policies.1');
  assert.match(early.message, /keyed by user must come after auth/);
  const [anonymous] = problemsOf(
    '  - { path: /a, service: api, auth: optional, rate_limit: { per_client: 1, key: user } }\n',
  );
  assert.equal(anonymous.path, 'routes.0.rate_limit.key');
  assert.deepEqual(
    problemsOf(
      '  - { path: /a, service: api, rate_limit: { per_client: 1, key: ip }, policies: [cors, rate_limit, auth] }\n',
    ),
    [],
  );
});

test('ip rules must be listed when the route has them', () => {
  const [problem] = problemsOf(
    '  - { path: /a, service: api, ip_allow: [10.0.0.0/8], policies: [cors, auth, rate_limit] }\n',
  );
  assert.equal(problem.path, 'routes.0.policies');
  assert.match(problem.message, /^ip applies to this route/);
  assert.deepEqual(
    problemsOf(
      '  - { path: /a, service: api, ip_allow: [10.0.0.0/8], policies: [ip, cors, auth, rate_limit] }\n',
    ),
    [],
  );
});
