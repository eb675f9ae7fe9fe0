// The role check of a route (`routes[].roles`): the identity the auth step found must
// hold at least one of the listed roles, else 403 FORBIDDEN and the upstream is not
// called. A request without an identity (auth: optional, no credential) has not proven
// anything yet: 401, so the client knows credentials would help.
import { CHALLENGE_NO_TOKEN } from '../auth/bearer.ts';
import { GatewayError } from '../errors.ts';
import type { Policy } from './policy.ts';

export function createRolesPolicy(roles: readonly string[] | undefined): Policy | null {
  if (roles === undefined || roles.length === 0) return null;
  const wanted = new Set(roles);
  return (request) => {
    const identity = request.identity;
    if (identity === undefined) {
      throw new GatewayError('UNAUTHORIZED', { headers: { 'www-authenticate': CHALLENGE_NO_TOKEN } });
    }
    for (const role of identity.roles) if (wanted.has(role)) return undefined;
    throw new GatewayError('FORBIDDEN', {
      message: 'The identity holds none of the roles this route requires',
    });
  };
}
