// The seam between the authenticator (header parsing, cache, single-flight) and the
// two ways of deciding a token: asking the auth service (remote) or checking a JWT
// signature locally (jwt). A verifier answers valid or invalid, or throws
// AuthUnavailableError when it cannot decide; the authenticator never fails open.

import type { BreakerState } from '../upstream/circuit-breaker.ts';
import type { Identity } from './identity.ts';

export type Verdict =
  | {
      readonly valid: true;
      readonly identity: Identity;
      /** Epoch ms after which the credential is no longer valid (its exp), when known. */
      readonly expiresAtMs: number | undefined;
    }
  | {
      readonly valid: false;
      /**
       * False when the same token may become valid without changing (a JWT signed by a
       * key the gateway has not fetched yet), so it must not be remembered as bad.
       */
      readonly cacheable: boolean;
      /** Why, as a short code for the access log (never the token). */
      readonly reason: RejectReason;
    };

/**
 * Why a 401: `missing` (no credentials), `malformed` (not a usable bearer token),
 * `expired`, `bad_signature`, `unknown_key` (no key for its kid), `rejected` (the auth
 * service said no, or the token's claims do not fit: issuer, audience, algorithm, identity).
 */
export type RejectReason = 'missing' | 'malformed' | 'expired' | 'bad_signature' | 'unknown_key' | 'rejected';

export interface VerifyRequest {
  /** The whole Authorization header value, forwarded as is in remote mode. */
  readonly authorization: string;
  /** The bearer token alone. */
  readonly token: string;
  readonly requestId?: string | undefined;
}

export interface Verifier {
  verify(request: VerifyRequest): Promise<Verdict>;
  /** State of the breaker guarding the auth service or JWKS endpoint ('closed' when none). */
  breakerState(): BreakerState;
  /** Lets in-flight verifications finish, then releases connections. */
  close(): Promise<void>;
  /** Aborts in-flight verifications (they become AUTH_UNAVAILABLE) and releases connections. */
  destroy(): Promise<void>;
}

/**
 * One outcome per call to the auth service or JWKS endpoint, for the
 * gatehouse_auth_verify_calls_total metric (a fixed set: bounded label cardinality).
 * rate_limited and circuit_open are calls the gateway declined to make.
 */
export type VerifyCallResult =
  | 'valid'
  | 'invalid'
  | 'error'
  | 'unusable'
  | 'jwks_ok'
  | 'rate_limited'
  | 'circuit_open'
  /** No call made: the client address spent its share of failed verifications. */
  | 'client_limited';

/**
 * The auth backend could not decide (down, slow, 5xx, garbage, refused by the
 * breaker or the call rate limit). `reason` is for logs only: it never reaches clients.
 */
export class AuthUnavailableError extends Error {
  readonly reason: string;
  /**
   * True when the gateway itself declined to call (breaker open, call rate limit,
   * shutting down): expected under load, so logged at debug, not once per request.
   */
  readonly refused: boolean;
  /** When asking again could succeed, if known (becomes the 503's Retry-After). */
  readonly retryAfterMs: number | undefined;

  constructor(reason: string, options: { cause?: unknown; refused?: boolean; retryAfterMs?: number } = {}) {
    super(`auth unavailable: ${reason}`, { cause: options.cause });
    this.name = 'AuthUnavailableError';
    this.reason = reason;
    this.refused = options.refused ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}
