// Plays the identity provider in the JWT tests: makes signing keys, publishes them as
// a JWKS, signs tokens with jose, and crafts the unsigned ones an attacker would.
import {
  base64url,
  type CryptoKey,
  exportJWK,
  generateKeyPair,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';

export const ISSUER = 'https://issuer.test';
export const AUDIENCE = 'gatehouse';

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly jwk: JWK;
}

export async function signingKey(kid: string, alg = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, privateKey, publicKey, jwk };
}

export function keySet(...keys: SigningKey[]): JSONWebKeySet {
  return { keys: keys.map((key) => key.jwk) };
}

export interface TokenOptions {
  readonly key: SigningKey;
  readonly alg?: string;
  readonly kid?: string;
  readonly claims?: JWTPayload;
  readonly issuer?: string;
  readonly audience?: string;
  /** Seconds after `nowSeconds`; null for no exp. */
  readonly expiresIn?: number | null;
  /** The issuer's clock, in unix seconds (default: the real one). */
  readonly nowSeconds?: number;
}

const realNow = () => Math.floor(Date.now() / 1000);

/** A token for alice with roles reader and writer unless the claims say otherwise. */
export async function issueToken(options: TokenOptions): Promise<string> {
  const now = options.nowSeconds ?? realNow();
  const jwt = new SignJWT({ sub: 'alice', roles: ['reader', 'writer'], ...options.claims })
    .setProtectedHeader({ alg: options.alg ?? 'RS256', kid: options.kid ?? options.key.kid })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setIssuedAt(now);
  const expiresIn = options.expiresIn === undefined ? 600 : options.expiresIn;
  if (expiresIn !== null) jwt.setExpirationTime(now + expiresIn);
  return jwt.sign(options.key.privateKey);
}

/** An unsigned token, as an attacker would craft it by hand. */
export function unsignedToken(header: Record<string, unknown>, nowSeconds = realNow()): string {
  const part = (value: unknown) => base64url.encode(JSON.stringify(value));
  const claims = { sub: 'mallory', roles: ['admin'], iss: ISSUER, aud: AUDIENCE, exp: nowSeconds + 600 };
  return `${part(header)}.${part(claims)}.`;
}
