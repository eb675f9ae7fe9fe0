import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Router } from '../../src/routing/router.ts';

const router = new Router([
  { prefix: '/api', host: undefined, value: 'api' },
  { prefix: '/api/users', host: undefined, value: 'users' },
  { prefix: '/api/users/admin/', host: undefined, value: 'admin' },
  { prefix: '/', host: 'root.example', value: 'root-host' },
  { prefix: '/api', host: 'api.example', value: 'api-host' },
  { prefix: '/api', host: '*.tenant.example', value: 'tenant' },
]);

const cases: [string, string, string | undefined, string | undefined][] = [
  ['', '/api', 'api', '/api'],
  ['', '/api/', 'api', '/api'],
  ['', '/api/x', 'api', '/api'],
  ['', '/apiX', undefined, undefined],
  ['', '/api/users', 'users', '/api/users'],
  ['', '/api/users/1', 'users', '/api/users'],
  ['', '/api/usersX', 'api', '/api'],
  ['', '/api/users/admin', 'admin', '/api/users/admin'],
  ['', '/api/users/admin/x', 'admin', '/api/users/admin'],
  ['', '/other', undefined, undefined],
  ['root.example', '/anything/at/all', 'root-host', '/'],
  ['api.example', '/api/users', 'api-host', '/api'],
  ['api.example', '/nope', undefined, undefined],
  ['a.tenant.example', '/api/x', 'tenant', '/api'],
  ['tenant.example', '/api/x', 'api', '/api'],
];

for (const [host, path, value, prefix] of cases) {
  test(`${host || '*'} ${path} -> ${value ?? 'no route'}`, () => {
    const match = router.match(host, path);
    assert.equal(match?.value, value);
    assert.equal(match?.prefix, prefix);
  });
}
