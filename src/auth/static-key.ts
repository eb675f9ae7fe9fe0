// A static public key (auth.public_key), imported once at config time: a bad key
// fails the config, never a request.
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { AuthConfig } from '../config/schema.ts';

type Algorithm = AuthConfig['algorithms'][number];

export interface StaticKey {
  readonly key: KeyObject;
  /** The configured algorithms this key can verify. */
  readonly algorithms: Algorithm[];
}

/**
 * Imports a PEM public key at config time (a bad key fails the config, not requests)
 * and keeps only the algorithms that fit it, so a token whose alg does not match the
 * key type is refused by the allowlist instead of making jose throw a TypeError.
 */
export function staticKey(pem: string, allowed: readonly Algorithm[]): StaticKey {
  const key = createPublicKey(pem);
  const algorithms = allowed.filter((algorithm) => fitsKey(algorithm, key));
  if (algorithms.length === 0) {
    throw new Error(
      `auth.public_key is a ${describeKey(key)} key; none of auth.algorithms (${allowed.join(', ')}) can use it`,
    );
  }
  return { key, algorithms };
}

const EC_CURVES: Partial<Record<Algorithm, string>> = {
  ES256: 'prime256v1',
  ES384: 'secp384r1',
  ES512: 'secp521r1',
};

function fitsKey(algorithm: Algorithm, key: KeyObject): boolean {
  const type = key.asymmetricKeyType;
  if (algorithm.startsWith('RS')) return type === 'rsa';
  if (algorithm.startsWith('PS')) return type === 'rsa' || type === 'rsa-pss';
  if (algorithm.startsWith('ES'))
    return type === 'ec' && key.asymmetricKeyDetails?.namedCurve === EC_CURVES[algorithm];
  return algorithm === 'EdDSA' && type === 'ed25519';
}

function describeKey(key: KeyObject): string {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve ? `${key.asymmetricKeyType} ${curve}` : String(key.asymmetricKeyType);
}
