import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_AUTHORIZATION_LENGTH, parseAuthorization } from '../../src/auth/bearer.ts';

test('bearer credentials are read by syntax only', () => {
  const cases: [string | undefined, string, string?][] = [
    [undefined, 'absent'],
    ['', 'absent'],
    ['Basic dXNlcjpwYXNz', 'absent'],
    ['Digest username="x"', 'absent'],
    ['Bearer', 'malformed'],
    ['Bearer ', 'malformed'],
    ['Bearer a b', 'malformed'],
    ['Bearer tok\u0000en', 'malformed'],
    ['Bearer tök', 'malformed'],
    ['Bearer abc,def', 'malformed'],
    ['Bearer abc', 'bearer', 'abc'],
    ['bearer abc', 'bearer', 'abc'],
    ['BEARER  abc', 'bearer', 'abc'],
    [
      'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
      'bearer',
      'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
    ],
    ['Bearer a+b/c==', 'bearer', 'a+b/c=='],
    ['Bearer a=b', 'malformed'],
    [`Bearer ${'a'.repeat(MAX_AUTHORIZATION_LENGTH)}`, 'malformed'],
  ];
  for (const [header, kind, token] of cases) {
    const parsed = parseAuthorization(header);
    assert.equal(parsed.kind, kind, JSON.stringify(header));
    if (parsed.kind === 'bearer') assert.equal(parsed.token, token);
  }
});
