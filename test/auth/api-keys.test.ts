// The keys file and the key check, without a gateway.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashKey, lookupKey, parseKeysFile } from '../../src/auth/api-keys.ts';

const file = (body: string) => parseKeysFile(body);

test('a known key gives its consumer as the identity; an unknown one nothing', () => {
  const parsed = file(
    `consumers:\n  - { name: billing, key_sha256: ${hashKey('k1').toUpperCase()}, roles: [admin], rate_limit: { per_client: 2 } }\n`,
  );
  assert.ok('keys' in parsed);
  assert.deepEqual(lookupKey(parsed.keys, 'k1'), {
    userId: 'billing',
    roles: ['admin'],
    rateLimit: { rate: 2, burst: 4 },
  });
  assert.equal(lookupKey(parsed.keys, 'k2'), undefined);
  assert.equal(lookupKey(parsed.keys, ''), undefined);
});

test('problems carry their path and line', () => {
  const parsed = file(
    [
      'consumers:',
      `  - { name: a, key_sha256: ${hashKey('x')} }`,
      `  - { name: a, key_sha256: ${hashKey('x')} }`,
      '  - name: "bad\\r\\nname"',
      `    key_sha256: ${hashKey('y')}`,
      '',
    ].join('\n'),
  );
  assert.ok('problems' in parsed);
  assert.deepEqual(
    parsed.problems.map((p) => [p.path, p.line]),
    [['consumers.2.name', 4]],
  );
  const dup = file(
    `consumers:\n  - { name: a, key_sha256: ${hashKey('x')} }\n  - { name: a, key_sha256: ${hashKey('x')} }\n`,
  );
  assert.ok('problems' in dup);
  assert.deepEqual(
    dup.problems.map((p) => [p.path, p.line, p.message]),
    [
      ['consumers.1.key_sha256', 3, 'the same key as another consumer'],
      ['consumers.1.name', 3, 'two consumers with one name'],
    ],
  );
  const unknown = file('consumers:\n  - { name: a, key: plain-text }\n');
  assert.ok('problems' in unknown);
  assert.ok(unknown.problems.some((p) => p.path === 'consumers.0.key_sha256'));
});
