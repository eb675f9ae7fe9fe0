// The auth step of a route's chain. `required`: every request must carry a valid
// bearer token. `optional`: a request without an Authorization header goes on
// anonymously, but one that presents credentials must present good ones: a bad token
// gets 401 so the client learns its credentials are wrong, instead of silently getting
// the anonymous answer (and, say, caching it as if it were logged in). An auth service
// that cannot decide is a 503 in both modes: never fail open.
// Removing client-sent X-User-* headers and setting the identity headers upstream is
// the forwarder's job; this step only fills ctx.identity.
import type { Authenticator } from '../auth/authenticator.ts';
import type { Policy } from './policy.ts';

export { isSafeHeaderValue, isSafeRole, isSafeUserId } from '../auth/identity.ts';

export type AuthMode = 'required' | 'optional' | 'none';

export function createAuthPolicy(mode: AuthMode, authenticator: Authenticator | undefined): Policy | null {
  if (mode === 'none') return null;
  if (authenticator === undefined) throw new Error(`auth: ${mode} needs an auth section`);

  if (mode === 'required') {
    return async (ctx) => {
      ctx.identity = await authenticator.authenticate(ctx.req.headers.authorization, ctx.requestId);
      return undefined;
    };
  }

  return (ctx) => {
    const authorization = ctx.req.headers.authorization;
    // Synchronous when anonymous: no promise on the common unauthenticated path.
    if (authorization === undefined || authorization === '') return undefined;
    return authenticator.authenticate(authorization, ctx.requestId).then((identity) => {
      ctx.identity = identity;
      return undefined;
    });
  };
}
