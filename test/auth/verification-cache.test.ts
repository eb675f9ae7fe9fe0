import assert from 'node:assert/strict';
import { test } from 'node:test';
import { credentialKey, VerificationCache } from '../../src/auth/verification-cache.ts';
import { fakeClock } from '../helpers/clock.ts';

const alice = { userId: 'alice', roles: [] };

function cacheWith(clock: () => number, maxEntries = 100) {
  return new VerificationCache({ maxEntries, ttlMs: 60_000, negativeTtlMs: 10_000, clock });
}

test('keys are the SHA-256 of the whole header, never the token', () => {
  const key = credentialKey('Bearer secret-token');
  assert.equal(key.length, 43);
  assert.ok(!key.includes('secret'));
  assert.notEqual(credentialKey('Bearer secret-token'), credentialKey('bearer secret-token'));
});

test('a valid entry lives min(cache_ttl, exp - now)', () => {
  const time = fakeClock();
  const cache = cacheWith(time.clock);
  cache.setValid('far', alice, time.now + 3_600_000);
  cache.setValid('near', alice, time.now + 5_000);
  cache.setValid('no-exp', alice, undefined);
  time.advance(4_999);
  assert.deepEqual(cache.get('near'), { valid: true, identity: alice });
  time.advance(1);
  assert.equal(cache.get('near'), undefined);
  assert.deepEqual(cache.get('far'), { valid: true, identity: alice });
  time.advance(55_000);
  assert.equal(cache.get('far'), undefined, 'cache_ttl bounds a far exp');
  assert.equal(cache.get('no-exp'), undefined);
});

test('an already expired credential is not cached', () => {
  const time = fakeClock();
  const cache = cacheWith(time.clock);
  cache.setValid('old', alice, time.now - 1);
  cache.setValid('now', alice, time.now);
  assert.equal(cache.get('old'), undefined);
  assert.equal(cache.get('now'), undefined);
});

test('refusals live negative_cache_ttl; a new verdict replaces the old one', () => {
  const time = fakeClock();
  const cache = cacheWith(time.clock);
  cache.setInvalid('bad', 'expired');
  time.advance(9_999);
  assert.deepEqual(cache.get('bad'), { valid: false, reason: 'expired' }, 'the reason is remembered too');
  time.advance(1);
  assert.equal(cache.get('bad'), undefined);
  cache.setInvalid('flip', 'rejected');
  cache.setValid('flip', alice, undefined);
  assert.deepEqual(cache.get('flip'), { valid: true, identity: alice });
  cache.setInvalid('flip', 'rejected');
  assert.deepEqual(cache.get('flip'), { valid: false, reason: 'rejected' });
});

test('both caches are bounded, and bad tokens never evict good ones', () => {
  const time = fakeClock();
  const cache = cacheWith(time.clock, 10);
  cache.setValid('good', alice, undefined);
  for (let i = 0; i < 1000; i++) cache.setInvalid(`bad-${i}`, 'rejected');
  for (let i = 0; i < 1000; i++) cache.setValid(`v-${i}`, alice, undefined);
  assert.deepEqual(cache.size, { valid: 10, invalid: 10 });
  const again = cacheWith(time.clock, 10);
  again.setValid('good', alice, undefined);
  for (let i = 0; i < 1000; i++) again.setInvalid(`bad-${i}`, 'rejected');
  assert.deepEqual(again.get('good'), { valid: true, identity: alice });
});
