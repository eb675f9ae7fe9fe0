import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { staticKey } from '../../src/auth/static-key.ts';

function pem(type: 'rsa' | 'ec' | 'ed25519'): string {
  const options =
    type === 'rsa' ? { modulusLength: 2048 } : type === 'ec' ? { namedCurve: 'prime256v1' } : {};
  const { publicKey } = generateKeyPairSync(type as 'rsa', options as { modulusLength: number });
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

describe('staticKey', () => {
  it('keeps only the configured algorithms the key can verify', () => {
    assert.deepEqual(staticKey(pem('rsa'), ['RS256', 'ES256', 'PS256']).algorithms, ['RS256', 'PS256']);
    assert.deepEqual(staticKey(pem('ec'), ['RS256', 'ES256', 'ES384']).algorithms, ['ES256']);
    assert.deepEqual(staticKey(pem('ed25519'), ['EdDSA', 'RS256']).algorithms, ['EdDSA']);
  });

  it('refuses a key none of the algorithms can use, naming the key type', () => {
    assert.throws(
      () => staticKey(pem('ec'), ['RS256']),
      /prime256v1 key; none of auth\.algorithms \(RS256\)/,
    );
  });

  it('refuses a PEM that is not a public key', () => {
    assert.throws(() => staticKey('not a pem', ['RS256']));
  });
});
