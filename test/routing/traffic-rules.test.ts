// The pure parts of the traffic rules: conditions and their ranking in the router,
// overlap between condition sets, rewrites, header transforms and split picking.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${…} are the gateway's header placeholders
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GatewayError } from '../../src/errors.ts';
import { compileConditions, mayOverlap } from '../../src/routing/conditions.ts';
import { compileRedirect, compileRewrite } from '../../src/routing/rewrite.ts';
import { Router } from '../../src/routing/router.ts';
import { createSplit } from '../../src/routing/split.ts';
import { compileHeaderTransform, forbiddenHeaderProblem } from '../../src/rules/header-transform.ts';

test('the router ranks routes of one prefix by conditions and falls back to shorter prefixes', () => {
  const router = new Router<string>([
    { prefix: '/api', host: undefined, value: 'plain' },
    {
      prefix: '/api',
      host: undefined,
      value: 'one',
      conditions: compileConditions({ headers: { 'X-A': '1' } }),
    },
    {
      prefix: '/api',
      host: undefined,
      value: 'two',
      conditions: compileConditions({ headers: { 'x-a': '1' }, query: { v: { present: true } } }),
    },
    {
      prefix: '/api/deep',
      host: undefined,
      value: 'deep',
      conditions: compileConditions({ query: { q: 'x' } }),
    },
  ]);
  assert.equal(router.match('', '/api/x')?.value, 'plain');
  assert.equal(router.match('', '/api/x', { 'x-a': '1' })?.value, 'one');
  assert.equal(router.match('', '/api/x', { 'x-a': '1' }, '?v=')?.value, 'two');
  assert.equal(router.match('', '/api/deep/1', {}, '?q=x')?.value, 'deep');
  const fallback = router.match('', '/api/deep/1', {}, '?q=y');
  assert.deepEqual(fallback, { value: 'plain', prefix: '/api' });
  const onlyConditional = new Router<string>([
    { prefix: '/c', host: undefined, value: 'c', conditions: compileConditions({ headers: { 'x-b': 'y' } }) },
  ]);
  assert.equal(onlyConditional.match('', '/c'), undefined);
});

test('condition sets overlap unless an exact value contradicts', () => {
  const a = compileConditions({ headers: { 'x-t': 'acme' } });
  const b = compileConditions({ headers: { 'x-t': 'other' } });
  const c = compileConditions({ query: { beta: 'true' } });
  const d = compileConditions({ headers: { 'x-t': { present: true } } });
  assert.equal(mayOverlap(a, b), false);
  assert.equal(mayOverlap(a, c), true);
  assert.equal(mayOverlap(a, d), true);
  assert.equal(mayOverlap(null, a), true);
  assert.equal(compileConditions({}), null);
});

test('a rewrite keeps its result a normalized path, and a redirect expands captures', () => {
  const rewrite = compileRewrite({ regex: '^/api/(.*)$', replacement: '/v2/$1' });
  assert.equal(rewrite('/api/a/b'), '/v2/a/b');
  assert.equal(rewrite('/other'), '/other', 'no match: the path goes on unchanged');
  const climbing = compileRewrite({ regex: '^/x/(.*)$', replacement: '/$1/..' });
  assert.throws(
    () => climbing('/x/a'),
    (error: GatewayError) => error.code === 'BAD_REQUEST',
  );
  const relative = compileRewrite({ regex: '^/x/(.*)$', replacement: '$1' });
  assert.throws(
    () => relative('/x/a'),
    (error: GatewayError) => error.code === 'BAD_REQUEST',
  );
  assert.throws(
    () => rewrite(`/api/${'a'.repeat(3000)}`),
    (error: GatewayError) => error.code === 'BAD_REQUEST',
  );
  const location = compileRedirect(
    { location: 'https://n.example/$1?from=$2', status: 301 },
    {
      regex: '^/old/([^/]+)/(.*)$',
      replacement: '/',
    },
  );
  assert.equal(location('/old/a/b/c'), 'https://n.example/a?from=b/c');
  assert.equal(location('/elsewhere'), 'https://n.example/?from=');
});

test('header transforms remove, set and add, and skip values that render empty', () => {
  const transform = compileHeaderTransform({
    set: { 'X-Route': '${route}', 'X-User': '${user_id}' },
    add: { 'X-Trace': '${request_id}/${client_ip}' },
    remove: ['X-Drop'],
  })!;
  const headers = ['X-Route', 'client', 'x-drop', '1', 'Accept', '*/*', 'X-DROP', '2'];
  transform(headers, { requestId: 'r1', clientIp: '10.0.0.1', identity: undefined, routeName: '/api' });
  assert.deepEqual(headers, ['Accept', '*/*', 'X-Route', '/api', 'X-Trace', 'r1/10.0.0.1']);
  assert.equal(compileHeaderTransform({ set: {}, add: {}, remove: [] }), null);
  assert.match(forbiddenHeaderProblem('Keep-Alive')!, /hop-by-hop/);
  assert.match(forbiddenHeaderProblem('x_user_id')!, /identity/);
  assert.match(forbiddenHeaderProblem('X-Principal', ['x-principal'])!, /identity/);
  assert.equal(forbiddenHeaderProblem('Cache-Control'), undefined);
});

test('a split picks by weight, and a canary key always picks the same side', () => {
  let draw = 0;
  const pick = createSplit(
    [
      { weight: 90, value: 'stable' },
      { weight: 10, value: 'canary' },
    ],
    () => draw,
  );
  draw = 0.89;
  assert.equal(pick({}), 'stable');
  draw = 0.9;
  assert.equal(pick({}), 'canary');
  const first = pick({ 'x-canary-key': 'alice' });
  draw = 0.01;
  assert.equal(pick({ 'x-canary-key': 'alice' }), first);
});
