// jwt mode: tokens are checked locally with jose against a static public key or the
// keys published at jwks_url. Only the configured asymmetric algorithms are accepted
// (so `none` and HS256-with-the-public-key never are); exp is required; iss and aud
// when configured. A bad token is UNAUTHORIZED; keys that cannot be had are
// AUTH_UNAVAILABLE.
//
// The keys come from static-key.ts (auth.public_key) or jwks-keys.ts (auth.jwks_url,
// fetched, cached and guarded there). When a JWKS fetch fails, the last keys fetched
// still verify tokens whose kid they hold; only a token that needs a key the gateway
// does not have becomes AUTH_UNAVAILABLE.
import { errors, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions, jwtVerify } from 'jose';
import type { AuthConfig } from '../config/schema.ts';
import { type ClaimNames, identityFromClaims } from './identity.ts';
import { createJwksKeys, type JwksDeps } from './jwks-keys.ts';
import { staticKey } from './static-key.ts';
import {
  AuthUnavailableError,
  type RejectReason,
  type Verdict,
  type Verifier,
  type VerifyRequest,
} from './verifier.ts';

export type JwtVerifierDeps = JwksDeps;

/** How a failed jose verification is answered. */
type Failure = 'invalid' | 'unknown_key' | 'unavailable';

/** A compact JWS: three base64url parts. Anything else is refused without parsing. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

const invalid = (reason: RejectReason): Verdict => ({ valid: false, cacheable: true, reason });
/** A kid the gateway has no key for may be a key it has not fetched yet. */
const UNKNOWN_KEY: Verdict = { valid: false, cacheable: false, reason: 'unknown_key' };

export function createJwtVerifier(config: AuthConfig, deps: JwtVerifierDeps): Verifier {
  const claimNames: ClaimNames = { userId: [config.user_id_claim], roles: [config.roles_claim] };
  const keys = config.public_key !== undefined ? staticKey(config.public_key, config.algorithms) : undefined;
  const algorithms = keys?.algorithms ?? config.algorithms;
  const jwks = config.jwks_url !== undefined && keys === undefined ? createJwksKeys(config, deps) : undefined;
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
      return invalid('rejected');
    }
    return { valid: true, identity: result.identity, expiresAtMs: (payload.exp as number) * 1000 };
  }

  async function verify(request: VerifyRequest): Promise<Verdict> {
    if (!COMPACT_JWS.test(request.token)) return invalid('malformed');
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
        return { valid: false, cacheable: false, reason: rejectReason(fallbackError) };
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
  if (failure === 'invalid') return invalid(rejectReason(error));
  if (failure === 'unknown_key') return UNKNOWN_KEY;
  throw toUnavailable(error);
}

function toUnavailable(error: unknown): AuthUnavailableError {
  if (error instanceof AuthUnavailableError) return error;
  const reason =
    error instanceof errors.JOSEError ? error.code : error instanceof Error ? error.name : 'error';
  return new AuthUnavailableError(`signing keys unavailable (${reason})`, { cause: error });
}

/** The access log's code for a token jose refused. */
function rejectReason(error: unknown): RejectReason {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return 'malformed';
  return 'rejected';
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
