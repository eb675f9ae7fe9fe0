// Reads the Authorization header as an RFC 6750 bearer credential. This is syntax
// only: in remote mode the token itself is never decoded, the auth service decides.
// Rejecting anything that is not `Bearer <b64token>` here keeps odd bytes away from
// the auth service and from the cache, and costs it no call.

/** Longer credentials are refused before hashing or forwarding them. */
export const MAX_AUTHORIZATION_LENGTH = 8192;

// RFC 6750 section 2.1: "Bearer" 1*SP b64token; the scheme is case-insensitive.
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

export type BearerCredential =
  /** No credentials, or another scheme: the challenge names Bearer without an error. */
  | { readonly kind: 'absent' }
  /** A Bearer credential that cannot be a token: the challenge says invalid_token. */
  | { readonly kind: 'malformed' }
  | { readonly kind: 'bearer'; readonly token: string };

const ABSENT: BearerCredential = { kind: 'absent' };
const MALFORMED: BearerCredential = { kind: 'malformed' };

export function parseAuthorization(authorization: string | undefined): BearerCredential {
  if (authorization === undefined || authorization === '') return ABSENT;
  if (authorization.length > MAX_AUTHORIZATION_LENGTH) return MALFORMED;
  const match = BEARER.exec(authorization);
  if (match) return { kind: 'bearer', token: match[1] };
  // RFC 6750 section 3.1: a client that used another scheme gets a plain challenge.
  return /^bearer(?: |$)/i.test(authorization) ? MALFORMED : ABSENT;
}

/** WWW-Authenticate values for the two kinds of 401. */
export const CHALLENGE_NO_TOKEN = 'Bearer';
export const CHALLENGE_INVALID_TOKEN = 'Bearer error="invalid_token"';
