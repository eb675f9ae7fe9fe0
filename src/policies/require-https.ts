// auth.require_https: a credential that travelled in clear text is refused before the
// auth step, so it is never sent on to the auth service either. "Over HTTPS" is the
// request's resolved scheme: the gateway's own TLS, or a trusted proxy's
// X-Forwarded-Proto: https (tls/peer.ts).
import type { AuthConfig } from '../config/schema.ts';
import { GatewayError } from '../errors.ts';
import type { BuiltinPolicy } from './policy.ts';

export function createRequireHttpsPolicy(
  auth: AuthConfig | undefined,
  /** Lower-cased names of the headers that carry credentials. */
  credentialHeaders: readonly string[] = ['authorization'],
): BuiltinPolicy | null {
  if (!auth?.require_https) return null;
  return (request) => {
    if (request.secure) return undefined;
    for (const name of credentialHeaders) {
      if (request.headers[name] !== undefined) throw new GatewayError('HTTPS_REQUIRED');
    }
    return undefined;
  };
}
