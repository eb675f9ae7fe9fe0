// jwt mode: tokens are checked locally with jose against a static public key or the
// keys published at jwks_url. Only the configured asymmetric algorithms are accepted
// (so `none` and HS256-with-the-public-key never are); exp is required; iss and aud
// when configured. A bad token is UNAUTHORIZED; keys that cannot be had are
// AUTH_UNAVAILABLE.
//
// JWKS: jose's remote set caches the keys (refetched after JWKS_MAX_AGE_MS) and
// fetches again on an unknown kid at most once per jwks_cooldown. Its fetches go
// through the same call rate limit and circuit breaker as remote mode. When a fetch
// fails, the last keys fetched still verify tokens whose kid they hold: an outage of
// the JWKS endpoint does not lock out users whose keys the gateway already knows.
// Only a token that needs a key the gateway does not have becomes AUTH_UNAVAILABLE.
import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  type ExportedJWKSCache,
  errors,
  type FetchImplementation,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  jwksCache,
  jwtVerify,
} from 'jose';
import type { Logger } from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import type { Clock } from '../clock.ts';
import type { AuthConfig } from '../config/schema.ts';
import { type CallGuard, createCallGuard } from './call-guard.ts';
import { type ClaimNames, identityFromClaims } from './identity.ts';
import {
  AuthUnavailableError,
  type Verdict,
  type Verifier,
  type VerifyCallResult,
  type VerifyRequest,
} from './verifier.ts';

/** jose's default: keys older than this are fetched again before use. */
export const JWKS_MAX_AGE_MS = 10 * 60_000;

type Algorithm = AuthConfig['algorithms'][number];

export interface JwtVerifierDeps {
  readonly logger: Logger;
  readonly clock: Clock;
  /** Overrides JWKS_MAX_AGE_MS (tests of the stale-keys fallback). */
  readonly jwksMaxAgeMs?: number;
  readonly onCall?: (result: VerifyCallResult) => void;
}

/** How a failed jose verification is answered. */
type Failure = 'invalid' | 'unknown_key' | 'unavailable';

/** A compact JWS: three base64url parts. Anything else is refused without parsing. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

const INVALID: Verdict = { valid: false, cacheable: true };
/** A kid the gateway has no key for may be a key it has not fetched yet. */
const UNKNOWN_KEY: Verdict = { valid: false, cacheable: false };

export function createJwtVerifier(config: AuthConfig, deps: JwtVerifierDeps): Verifier {
  const claimNames: ClaimNames = { userId: [config.user_id_claim], roles: [config.roles_claim] };
  const keys = config.public_key !== undefined ? staticKey(config.public_key, config.algorithms) : undefined;
  const algorithms = keys?.algorithms ?? config.algorithms;
  const jwks = config.jwks_url !== undefined && keys === undefined ? remoteKeys(config, deps) : undefined;
  if (keys === undefined && jwks === undefined)
    throw new Error('auth: jwt mode needs jwks_url or public_key');

  function options(): JWTVerifyOptions {
    return {
      algorithms,
      issuer: config.issuer,
      audience: config.audience,
      clockTolerance: config.clock_tolerance / 1000,
      currentDate: new Date(deps.clock()),
      // A token without exp would be trusted forever by anyone who copies it.
      requiredClaims: ['exp'],
    };
  }

  function accept(payload: JWTPayload): Verdict {
    const result = identityFromClaims(payload, claimNames);
    if (!result.ok) {
      // Signed by a trusted key yet unusable: the token, not the issuer, is at fault,
      // and asking again will not change it, so this is a 401 rather than a 503.
      deps.logger.warn({ problem: result.problem }, 'jwt has no usable identity');
      return INVALID;
    }
    return { valid: true, identity: result.identity, expiresAtMs: (payload.exp as number) * 1000 };
  }

  async function verify(request: VerifyRequest): Promise<Verdict> {
    if (!COMPACT_JWS.test(request.token)) return INVALID;
    if (keys !== undefined) {
      try {
        return accept((await jwtVerify(request.token, keys.key, options())).payload);
      } catch (error) {
        return answerFailure(error, classify(error));
      }
    }
    const remote = jwks!;
    let failure: Failure;
    try {
      return accept(await verifyWithKeySet(request.token, remote.current, options()));
    } catch (error) {
      failure = classify(error);
      if (failure !== 'unavailable') return answerFailure(error, failure);
      const lastKnown = remote.lastKnown();
      if (lastKnown === undefined) throw toUnavailable(error);
      try {
        return accept(await verifyWithKeySet(request.token, lastKnown, options()));
      } catch (fallbackError) {
        const fallbackFailure = classify(fallbackError);
        // The endpoint is down and the keys we hold do not decide this token.
        if (fallbackFailure !== 'invalid') throw toUnavailable(error);
        return { valid: false, cacheable: false };
      }
    }
  }

  return {
    verify,
    breakerState: () => jwks?.guard.breakerState ?? 'closed',
    close: async () => {
      await jwks?.agent.close().catch(() => undefined);
    },
    destroy: async () => {
      await jwks?.agent.destroy();
    },
  };
}

function answerFailure(error: unknown, failure: Failure): Verdict {
  if (failure === 'invalid') return INVALID;
  if (failure === 'unknown_key') return UNKNOWN_KEY;
  throw toUnavailable(error);
}

function toUnavailable(error: unknown): AuthUnavailableError {
  if (error instanceof AuthUnavailableError) return error;
  const reason =
    error instanceof errors.JOSEError ? error.code : error instanceof Error ? error.name : 'error';
  return new AuthUnavailableError(`signing keys unavailable (${reason})`, { cause: error });
}

function classify(error: unknown): Failure {
  if (error instanceof errors.JOSEError) {
    switch (error.code) {
      // Fetching or reading the key set failed: nothing is known about the token.
      case 'ERR_JWKS_TIMEOUT':
      case 'ERR_JWKS_INVALID':
      case 'ERR_JWK_INVALID':
      case 'ERR_JOSE_GENERIC':
        return 'unavailable';
      case 'ERR_JWKS_NO_MATCHING_KEY':
        return 'unknown_key';
      default:
        // Expired, bad signature, alg not allowed, bad iss/aud, malformed token.
        return 'invalid';
    }
  }
  // Network errors from the fetch, refusals by the guard, and anything unexpected:
  // fail closed with a 503 rather than guess.
  return 'unavailable';
}

/** jose's key-set verification, plus the case of several keys matching one header. */
async function verifyWithKeySet(
  token: string,
  keySet: JWTVerifyGetKey,
  options: JWTVerifyOptions,
): Promise<JWTPayload> {
  try {
    return (await jwtVerify(token, keySet, options)).payload;
  } catch (error) {
    if (!(error instanceof errors.JWKSMultipleMatchingKeys)) throw error;
    for await (const key of error) {
      try {
        return (await jwtVerify(token, key, options)).payload;
      } catch (inner) {
        if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}

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

interface RemoteKeys {
  /** jose's caching, refetching key set. */
  readonly current: JWTVerifyGetKey;
  /** The keys of the last successful fetch, for when the endpoint fails. */
  lastKnown(): JWTVerifyGetKey | undefined;
  readonly guard: CallGuard;
  readonly agent: Agent;
}

function remoteKeys(config: AuthConfig, deps: JwtVerifierDeps): RemoteKeys {
  const agent = new Agent({
    connections: 4,
    keepAliveTimeout: 4000,
    keepAliveMaxTimeout: 4000,
    connectTimeout: config.timeout,
  });
  const guard = createCallGuard(config, deps.clock, deps.logger, 'JWKS endpoint');

  const guardedFetch: FetchImplementation = async (url, init) => {
    const admission = guard.acquire();
    if (!admission.admitted) {
      deps.onCall?.(admission.refusal);
      throw new AuthUnavailableError(`JWKS fetch ${admission.refusal}`, {
        refused: true,
        retryAfterMs: admission.retryAfterMs,
      });
    }
    try {
      // jose hands over the global fetch's Headers; undici's fetch reads any iterable of pairs.
      const headers = [...init.headers] as [string, string][];
      const response = await undiciFetch(url, { ...init, headers, dispatcher: agent });
      guard.record(admission.permit, response.status < 500);
      deps.onCall?.(response.status === 200 ? 'jwks_ok' : response.status >= 500 ? 'error' : 'unusable');
      if (response.status !== 200)
        deps.logger.warn({ status: response.status }, 'JWKS endpoint answered without keys');
      // undici's Response is the one Node's global fetch returns; only the types differ.
      return response as unknown as Response;
    } catch (error) {
      guard.record(admission.permit, false);
      deps.onCall?.('error');
      deps.logger.warn({ err: error }, 'JWKS fetch failed');
      throw error;
    }
  };

  // jose writes every successful fetch into this slot; it is the stale-keys fallback.
  const slot: Partial<ExportedJWKSCache> = {};
  const current = createRemoteJWKSet(new URL(config.jwks_url!), {
    timeoutDuration: config.timeout,
    cooldownDuration: config.jwks_cooldown,
    cacheMaxAge: deps.jwksMaxAgeMs ?? JWKS_MAX_AGE_MS,
    [jwksCache]: slot as ExportedJWKSCache,
    [customFetch]: guardedFetch,
  });

  let lastJwks: JSONWebKeySet | undefined;
  let lastSet: JWTVerifyGetKey | undefined;
  return {
    current,
    guard,
    agent,
    lastKnown() {
      if (slot.jwks === undefined) return undefined;
      if (slot.jwks !== lastJwks) {
        lastJwks = slot.jwks;
        lastSet = createLocalJWKSet(slot.jwks);
      }
      return lastSet;
    },
  };
}
