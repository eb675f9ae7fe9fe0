// The auth step of a route's chain. `required`: every request must carry a valid
// credential: a bearer token (auth section) or an API key (api_keys section); with both
// sections either one is accepted, and a request that carries an API key is decided by
// it alone (a bad key is 401, never a fall-through to the token). `optional`: a request without an Authorization header goes on
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
// more than one Authorization field is refused as invalid credentials (401, no call);
// the same holds for the API key header. An API key is checked synchronously (a hash
// and a map lookup), and so is a token whose valid verdict is cached: neither path
// allocates a promise.
import type { ApiKeyStore } from '../auth/api-keys.ts';
import type { Authenticator } from '../auth/authenticator.ts';
import { CHALLENGE_INVALID_TOKEN } from '../auth/bearer.ts';
import { GatewayError } from '../errors.ts';
import type { BuiltinPolicy, ChainRequest } from './policy.ts';

export { isSafeHeaderValue, isSafeRole, isSafeUserId } from '../auth/identity.ts';

export type AuthMode = 'required' | 'optional' | 'none';

export function createAuthPolicy(
  mode: AuthMode,
  authenticator: Authenticator | undefined,
  apiKeys?: ApiKeyStore,
): BuiltinPolicy | null {
  if (mode === 'none') return null;
  if (authenticator === undefined && apiKeys === undefined) {
    throw new Error(`auth: ${mode} needs an auth or api_keys section`);
  }
  const keyHeader = apiKeys?.header;
  const keyChallenge = `ApiKey header="${keyHeader}"`;

  return (request) => {
    if (isRepeated(request.rawHeaders, 'authorization'))
      throw unauthorized(CHALLENGE_INVALID_TOKEN, 'malformed');
    if (apiKeys !== undefined) {
      const key = request.headers[keyHeader!];
      if (key !== undefined) return admitKey(request, apiKeys, key, keyChallenge);
    }
    const authorization = request.headers.authorization;
    const anonymous = authorization === undefined || authorization === '';
    // Synchronous when anonymous: no promise on the common unauthenticated path.
    if (mode === 'optional' && anonymous) return undefined;
    if (authenticator === undefined) {
      // API keys only: a bearer token is not a credential this gateway can check.
      throw anonymous
        ? unauthorized(keyChallenge, 'missing')
        : unauthorized(`${keyChallenge}, error="invalid_key"`, 'unsupported');
    }
    const cached = authenticator.cachedIdentity(authorization, request.connection);
    if (cached !== undefined) {
      request.identity = cached;
      return undefined;
    }
    return authenticator.authenticate(authorization, request.requestId, request.clientIp).then((identity) => {
      request.identity = identity;
      return undefined;
    });
  };
}

function admitKey(
  request: ChainRequest,
  apiKeys: ApiKeyStore,
  key: string | string[],
  challenge: string,
): undefined {
  const identity =
    typeof key === 'string' && !isRepeated(request.rawHeaders, apiKeys.header)
      ? apiKeys.lookup(key)
      : undefined;
  if (identity === undefined) throw unauthorized(`${challenge}, error="invalid_key"`, 'invalid_key');
  request.identity = identity;
  return undefined;
}

/** Whether the client sent the field `lowerName` more than once (any case). */
function isRepeated(rawHeaders: readonly string[], lowerName: string): boolean {
  let seen = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) {
      if (seen) return true;
      seen = true;
    }
  }
  return false;
}

function unauthorized(challenge: string, reason: string): GatewayError {
  return new GatewayError('UNAUTHORIZED', { headers: { 'www-authenticate': challenge }, reason });
}
