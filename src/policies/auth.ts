// The auth step of a route's chain. `required`: every request must carry a valid
// bearer token. `optional`: a request without an Authorization header goes on
// anonymously, but one that presents credentials must present good ones: a bad token
// gets 401 so the client learns its credentials are wrong, instead of silently getting
// the anonymous answer (and, say, caching it as if it were logged in). An auth service
// that cannot decide is a 503 in both modes: never fail open.
// Removing client-sent X-User-* headers and setting the identity headers upstream is
// the forwarder's job; this step only fills request.identity.
//
// Authorization is a singleton field, yet a client can send it twice. Node keeps only
// the first in req.headers (what is verified) while the raw list, which is forwarded,
// keeps both: the upstream could read a credential nobody checked. So a request with
// more than one Authorization field is refused as invalid credentials (401, no call).
import type { Authenticator } from '../auth/authenticator.ts';
import { CHALLENGE_INVALID_TOKEN } from '../auth/bearer.ts';
import { GatewayError } from '../errors.ts';
import type { BuiltinPolicy } from './policy.ts';

export { isSafeHeaderValue, isSafeRole, isSafeUserId } from '../auth/identity.ts';

export type AuthMode = 'required' | 'optional' | 'none';

export function createAuthPolicy(
  mode: AuthMode,
  authenticator: Authenticator | undefined,
): BuiltinPolicy | null {
  if (mode === 'none') return null;
  if (authenticator === undefined) throw new Error(`auth: ${mode} needs an auth section`);

  if (mode === 'required') {
    return async (request) => {
      if (hasRepeatedAuthorization(request.rawHeaders)) throw repeatedCredentials();
      request.identity = await authenticator.authenticate(
        request.headers.authorization,
        request.requestId,
        request.clientIp,
      );
      return undefined;
    };
  }

  return (request) => {
    if (hasRepeatedAuthorization(request.rawHeaders)) throw repeatedCredentials();
    const authorization = request.headers.authorization;
    // Synchronous when anonymous: no promise on the common unauthenticated path.
    if (authorization === undefined || authorization === '') return undefined;
    return authenticator.authenticate(authorization, request.requestId, request.clientIp).then((identity) => {
      request.identity = identity;
      return undefined;
    });
  };
}

/** Whether the client sent the Authorization field more than once (any case). */
function hasRepeatedAuthorization(rawHeaders: readonly string[]): boolean {
  let seen = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (name.length === 13 && name.toLowerCase() === 'authorization') {
      if (seen) return true;
      seen = true;
    }
  }
  return false;
}

function repeatedCredentials(): GatewayError {
  return new GatewayError('UNAUTHORIZED', {
    headers: { 'www-authenticate': CHALLENGE_INVALID_TOKEN },
    reason: 'malformed',
  });
}
