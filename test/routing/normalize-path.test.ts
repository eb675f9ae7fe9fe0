import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeTarget } from '../../src/routing/normalize-path.ts';

const resolved: [string, string, string][] = [
  ['/api/users', '/api/users', ''],
  ['/api/users?x=1&y=%2F', '/api/users', '?x=1&y=%2F'],
  ['/public/../admin', '/admin', ''],
  ['/a/./b/', '/a/b/', ''],
  ['/a/b/..', '/a/', ''],
  ['/a//b///c', '/a/b/c', ''],
  ['/%2e%2e/x'.replace('/%2e%2e', '/a/%2e%2e'), '/x', ''],
  ['/a/%2E%2E/x', '/x', ''],
  ['/a/%2e./x', '/x', ''],
  ['/a/%41%7e', '/a/A~', ''],
  ['/a/%252e%252e/x', '/a/%252e%252e/x', ''],
  ['/a/%c3%a9', '/a/%C3%A9', ''],
  ['/a/%e0%a4%85/%f0%9f%98%80', '/a/%E0%A4%85/%F0%9F%98%80', ''],
  ['/a/%e9t%e9', '/a/%E9t%E9', ''],
  ['/v1.0/users', '/v1.0/users', ''],
  ['/a/b?x=1;y=2', '/a/b', '?x=1;y=2'],
  ['/a/%3Bx/b', '/a/%3Bx/b', ''],
  ['//evil.example/x', '/evil.example/x', ''],
];

for (const [input, path, query] of resolved) {
  test(`normalizes ${input}`, () => {
    assert.deepEqual(normalizeTarget(input), { path, query });
  });
}

const rejected = [
  'http://evil.example/api',
  '*',
  '/a/..%2f..%2fetc',
  '/a/%2F',
  '/a/%5c',
  '/a\\b',
  '/a/%00',
  '/a/%zz',
  '/a/%4',
  '/../x',
  '/a/../../x',
  '/a/..;/admin',
  '/a/.;x/b',
  '/a;v=1/b',
  '/app/admin;x/secret',
  '/app/admin;/secret',
  '/a\u0000b',
  '/a/%c0%ae%c0%ae/x',
  '/a/%C0%AF',
  '/a/%c1%9c',
  '/a/%e0%80%ae',
  '/a/%f0%80%80%af',
];

for (const input of rejected) {
  test(`rejects ${JSON.stringify(input)}`, () => {
    const result = normalizeTarget(input);
    assert.ok('error' in result, `expected an error, got ${JSON.stringify(result)}`);
  });
}
