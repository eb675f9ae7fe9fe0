// What `gatehouse validate` (and so start and reload) refuses in the traffic-rule keys,
// each problem with its config path and line.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/load.ts';
import { runCli } from '../helpers/cli.ts';

async function write(text: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'gatehouse-rules-')), 'gateway.yaml');
  await writeFile(file, text);
  return file;
}

function problemsOf(text: string) {
  try {
    parseConfig(text, 'gateway.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems.map((problem) => `${problem.line}: ${problem.path}: ${problem.message}`);
  }
  assert.fail('expected the config to be refused');
}

const SERVICES = `services:
  a: { url: http://127.0.0.1:3001 }
  b: { url: http://127.0.0.1:3002 }
`;

test('validate refuses two routes that could match the same request with equal rank, naming both', async () => {
  const file = await write(`${SERVICES}routes:
  - path: /orders
    service: a
    match: { headers: { x-tenant: acme } }
  - path: /orders/
    service: b
    match: { query: { beta: "true" } }
  - path: /orders
    service: b
    match: { headers: { x-tenant: other } }
  - path: /orders
    service: a
    match: { headers: { x-tenant: acme, x-beta: { present: true } } }
`);
  const result = await runCli(['validate', '--config', file]);
  assert.equal(result.code, 1);
  // routes 0 and 1: one condition each, and a request can carry both: ambiguous.
  assert.match(
    result.stderr,
    /gateway\.yaml:8: routes\.1\.path: routes\.0 and routes\.1 \(\/orders\/\) could both match/,
  );
  // Route 2 contradicts route 0 (another x-tenant value) but not route 1.
  assert.match(result.stderr, /routes\.1 and routes\.2 \(\/orders\) could both match/);
  assert.doesNotMatch(result.stderr, /routes\.0 and routes\.2/);
  // Route 3 has two conditions: it outranks the others, no ambiguity.
  assert.doesNotMatch(result.stderr, /routes\.3/);
});

test('validate accepts routes of one prefix told apart by rank or by contradicting values', async () => {
  const file = await write(`${SERVICES}routes:
  - { path: /orders, service: a }
  - { path: /orders, service: b, match: { headers: { x-canary: "1" } } }
  - { path: /orders, service: a, match: { headers: { x-canary: "2" } } }
  - { path: /orders, service: b, match: { headers: { x-canary: "1" }, query: { v: "2" } } }
`);
  const result = await runCli(['validate', '--config', file]);
  assert.equal(result.code, 0, result.stderr);
});

test('a regex that can backtrack catastrophically is refused at config time', async () => {
  const file = await write(`${SERVICES}routes:
  - path: /a
    service: a
    rewrite: { regex: "^/a/(x+x+)+y$", replacement: "/$1" }
`);
  const result = await runCli(['validate', '--config', file]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /gateway\.yaml:7: routes\.0\.rewrite\.regex: can backtrack catastrophically/);
});

test('rewrite regexes: what is refused and why', () => {
  const refused = (regex: string) =>
    problemsOf(
      `${SERVICES}routes:\n  - path: /a\n    service: a\n    rewrite: { regex: '${regex}', replacement: /x }\n`,
    );
  assert.match(refused('^(a+)+$')[0], /routes\.0\.rewrite\.regex: can backtrack catastrophically/);
  assert.match(refused('^/(a|ab)*$')[0], /alternatives/);
  assert.match(refused('^(.*)(.*)(.*)x')[0], /3 unbounded quantifiers/);
  assert.match(refused('^/(a)\\1')[0], /back-reference/);
  assert.match(refused('/a/(.*)')[0], /anchored with \^/);
  assert.match(refused('^/a/(')[0], /not a valid regular expression/);
  const replacement = problemsOf(
    `${SERVICES}routes:\n  - path: /a\n    service: a\n    rewrite: { regex: '^/a/(.*)$', replacement: '/x?y=$1' }\n`,
  );
  assert.match(replacement[0], /rewrite\.replacement: the replacement cannot add a query/);
  const both = problemsOf(
    `${SERVICES}routes:\n  - path: /a\n    service: a\n    strip_prefix: true\n    rewrite: { regex: '^/a/(.*)$', replacement: '/$1' }\n`,
  );
  assert.match(both[0], /routes\.0\.rewrite: use either rewrite or strip_prefix/);
});

test('a forbidden header in a transform is refused at config time, with its line', async () => {
  const file = await write(`${SERVICES}auth:
  mode: remote
  verify_url: http://127.0.0.1:3000/verify
  user_id_header: X-Principal
routes:
  - path: /a
    service: a
    auth: none
    request_headers:
      set:
        Host: evil.example
        X-Principal: admin
      add:
        X-User-Roles: admin
      remove: [Transfer-Encoding, X-Forwarded-For]
    response_headers:
      set: { Content-Length: "0", X-Fine: "yes" }
      add: { X-Bad: "\${nope}" }
`);
  const result = await runCli(['validate', '--config', file]);
  assert.equal(result.code, 1);
  const lines = result.stderr;
  assert.match(lines, /gateway\.yaml:14: routes\.0\.request_headers\.set\.Host: Host is the Host/);
  assert.match(
    lines,
    /gateway\.yaml:15: routes\.0\.request_headers\.set\.X-Principal: X-Principal is an identity header/,
  );
  assert.match(
    lines,
    /gateway\.yaml:17: routes\.0\.request_headers\.add\.X-User-Roles: X-User-Roles is an identity header/,
  );
  assert.match(lines, /routes\.0\.request_headers\.remove\.0: Transfer-Encoding is a framing header/);
  assert.match(lines, /routes\.0\.request_headers\.remove\.1: X-Forwarded-For is set by the gateway itself/);
  assert.match(lines, /routes\.0\.response_headers\.set\.Content-Length: Content-Length is a framing header/);
  assert.match(lines, /routes\.0\.response_headers\.add\.X-Bad: unknown placeholder \$\{nope\}/);
  assert.doesNotMatch(lines, /X-Fine/);
});

test('ip lists, splits and retries are checked with the rest', () => {
  const ips = problemsOf(`${SERVICES}routes:
  - path: /a
    service: a
    ip_allow: [10.0.0.0/8, 10.0.0.0/33, not-an-ip]
    ip_deny: ["2001:db8::/129"]
`);
  assert.deepEqual(ips, [
    '7: routes.0.ip_allow.1: "10.0.0.0/33" has an invalid prefix length',
    '7: routes.0.ip_allow.2: "not-an-ip" is not an IP address or CIDR',
    '8: routes.0.ip_deny.0: "2001:db8::/129" has an invalid prefix length',
  ]);
  const split = problemsOf(`${SERVICES}routes:
  - path: /b
    service: a
    split: [{ service: b, weight: 9 }, { service: nowhere, weight: 1 }]
`);
  assert.ok(split.some((p) => /routes\.0\.split: the split must include the route's service "a"/.test(p)));
  assert.ok(split.some((p) => /routes\.0\.split\.1\.service: no service named "nowhere"/.test(p)));
  const retries = problemsOf(`${SERVICES}routes:
  - path: /c
    service: a
    retries: { attempts: 9, budget: 2 }
`);
  assert.ok(retries.some((p) => /routes\.0\.retries\.attempts/.test(p)));
  assert.ok(retries.some((p) => /routes\.0\.retries\.budget/.test(p)));
});

test('a route with an ip list that orders its policies must list ip, like any built-in that applies', () => {
  const problems = problemsOf(`${SERVICES}routes:
  - { path: /a, service: a, ip_allow: [10.0.0.0/8], policies: [cors] }
`);
  assert.ok(
    problems.some((p) => /routes\.0\.policies: ip applies to this route but is not listed/.test(p)),
    problems.join('\n'),
  );
  assert.doesNotThrow(() =>
    parseConfig(
      `${SERVICES}routes:\n  - { path: /a, service: a, ip_deny: [10.0.0.1], policies: [ip] }\n`,
      'g.yaml',
    ),
  );
});
