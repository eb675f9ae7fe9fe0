// The `ip` policy: a route's ip_allow / ip_deny lists, checked against the client
// address as resolved through server.trusted_proxies (never a raw X-Forwarded-For).
// It runs before auth, so a refused address never costs a verify call.
import { GatewayError } from '../errors.ts';
import { createCidrList } from '../proxy/cidr-list.ts';
import type { Policy, PolicyRequest } from './policy.ts';

export interface IpListConfig {
  readonly ip_allow?: readonly string[];
  readonly ip_deny?: readonly string[];
}

/** null when the route lists no addresses. A deny entry wins over an allow entry. */
export function createIpPolicy(route: IpListConfig): Policy | null {
  const allow = route.ip_allow?.length ? createCidrList(route.ip_allow, 'ip_allow') : null;
  const deny = route.ip_deny?.length ? createCidrList(route.ip_deny, 'ip_deny') : null;
  if (!allow && !deny) return null;
  return (request: PolicyRequest) => {
    if (deny?.(request.clientIp) || (allow && !allow(request.clientIp))) {
      throw new GatewayError('FORBIDDEN', { message: 'This client address may not use this route' });
    }
    return undefined;
  };
}
