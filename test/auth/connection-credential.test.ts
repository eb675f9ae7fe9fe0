import assert from 'node:assert/strict';
import test from 'node:test';
import { bearerKey } from '../../src/auth/connection-credential.ts';
import { credentialKey } from '../../src/auth/verification-cache.ts';

test('a connection that repeats its credential gets the same key as a fresh computation', () => {
  const connection = {};
  const key = bearerKey('Bearer abc', connection);
  assert.equal(key, credentialKey('Bearer abc'));
  // A distinct string object with the same text (as each request's parser makes): same key.
  assert.equal(bearerKey(['Bearer', 'abc'].join(' '), connection), key);
});

test("a connection that changes its credential gets the new one's key, never the old one", () => {
  const connection = {};
  bearerKey('Bearer first', connection);
  assert.equal(bearerKey('Bearer second', connection), credentialKey('Bearer second'));
  assert.equal(bearerKey('Bearer first', connection), credentialKey('Bearer first'));
});

test('a malformed credential has no key, whatever the connection sent before', () => {
  const connection = {};
  bearerKey('Bearer good', connection);
  assert.equal(bearerKey('Basic Zm9vOmJhcg==', connection), undefined);
  assert.equal(bearerKey('Bearer', connection), undefined);
  assert.equal(bearerKey('', connection), undefined);
  assert.equal(bearerKey('Bearer good', connection), credentialKey('Bearer good'));
});

test('connections do not share what they remember', () => {
  const a = {};
  const b = {};
  bearerKey('Bearer for-a', a);
  assert.equal(bearerKey('Bearer for-b', b), credentialKey('Bearer for-b'));
  assert.equal(bearerKey('Bearer for-a', a), credentialKey('Bearer for-a'));
  assert.equal(bearerKey('Bearer no-connection', undefined), credentialKey('Bearer no-connection'));
});
