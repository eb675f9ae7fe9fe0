import assert from 'node:assert/strict';
import { test } from 'node:test';
import { identityFromClaims, isSafeHeaderValue, isSafeRole, MAX_ROLES } from '../../src/auth/identity.ts';

const remoteNames = { userId: ['user_id', 'sub'], roles: ['roles'] };

test('header values: printable ASCII only, no control characters, no edge whitespace', () => {
  for (const good of ['alice', 'user-42', 'a b', 'alice@example.com', '~!#$%^&*()'])
    assert.ok(isSafeHeaderValue(good), good);
  for (const bad of [
    '',
    ' alice',
    'alice ',
    'a\r\nX-Admin: 1',
    'a\nb',
    'a\rb',
    'a\u0000b',
    'a\tb',
    'a\u007fb',
    'a\u0085b',
    'josé',
    '用户',
  ]) {
    assert.ok(!isSafeHeaderValue(bad), JSON.stringify(bad));
  }
  assert.ok(!isSafeRole('admin,root'));
  assert.ok(isSafeRole('admin'));
});

test('the user id comes from the first field present, integers allowed', () => {
  assert.deepEqual(identityFromClaims({ user_id: 'alice', sub: 'other' }, remoteNames), {
    ok: true,
    identity: { userId: 'alice', roles: [] },
  });
  assert.deepEqual(identityFromClaims({ sub: 'bob', roles: ['a', 'b'] }, remoteNames), {
    ok: true,
    identity: { userId: 'bob', roles: ['a', 'b'] },
  });
  assert.deepEqual(identityFromClaims({ user_id: 42 }, remoteNames), {
    ok: true,
    identity: { userId: '42', roles: [] },
  });
});

test('unusable identities are refused, naming the field and never the value', () => {
  const refused: Record<string, unknown>[] = [
    {},
    { user_id: '' },
    { user_id: 'alice\r\nX-User-Roles: admin' },
    { user_id: 'nul\u0000' },
    { user_id: 1.5 },
    { user_id: { id: 1 } },
    { user_id: 'a'.repeat(257) },
    { user_id: 'alice', roles: 'admin' },
    { user_id: 'alice', roles: ['admin,root'] },
    { user_id: 'alice', roles: ['ok', 'bad\nrole'] },
    { user_id: 'alice', roles: [1] },
    { user_id: 'alice', roles: Array.from({ length: MAX_ROLES + 1 }, (_, i) => `r${i}`) },
  ];
  for (const claims of refused) {
    const result = identityFromClaims(claims, remoteNames);
    assert.equal(result.ok, false, JSON.stringify(claims));
    if (!result.ok) assert.doesNotMatch(result.problem, /alice|admin|bad|nul/);
  }
});

test('identities are frozen: a cached one cannot be changed by a request', () => {
  const result = identityFromClaims({ sub: 'carol', roles: ['x'] }, remoteNames);
  assert.ok(result.ok);
  assert.ok(Object.isFrozen(result.identity));
  assert.ok(Object.isFrozen(result.identity.roles));
});
