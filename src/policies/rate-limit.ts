// Rate limits of one route: up to three token buckets a request must all pass, decided
// in one store call (one Redis round trip):
//   global       key `g`                          rate_limit.global / global_burst (off at 0)
//   per client   key `c:<client>`                 rate_limit.per_client / per_client_burst (off at 0)
//   route        key `r:<host><path>:<client>`    route.rate_limit.per_client / per_client_burst (2x rate by default)
// <client> is `u:<user id>` once auth found one (runs before this), else
// `ip:<clientKey(clientIp)>` (IPv6 by /64). The host appears only on host-bound routes.
// The route scope's `key` can pin it to the address (ip: a limit placed before auth to
// protect the auth service) or to the identity (user: the config checks auth runs first).
//
// Every answer carries RateLimit-Limit/-Remaining/-Reset/-Policy (draft-ietf-httpapi-
// ratelimit-headers-06) for the tightest scope; a 429 adds Retry-After. When the store
// could not decide (Redis down) there are no numbers to give, so no RateLimit-* header
// is sent rather than invented ones; a denial by on_store_error still carries
// Retry-After: 1.
import type { RateLimitConfig, RouteConfig } from '../config/schema.ts';
import { GatewayError } from '../errors.ts';
import { clientKey } from '../ratelimit/client-key.ts';
import type { BucketLimits } from '../ratelimit/gcra.ts';
import type { BucketStore, TakeResult } from '../ratelimit/store.ts';
import { retryAfterHeader } from '../retry-after.ts';
import type { Policy, PolicyRequest } from './policy.ts';

/** Whose bucket a scope takes: one shared, or the client's (as found, by address, by identity). */
type KeyBy = 'shared' | 'client' | 'ip' | 'user';

interface Scope {
  /** Key of a shared bucket, or the prefix the client id is appended to. */
  readonly key: string;
  readonly keyBy: KeyBy;
  readonly limits: BucketLimits;
  /** RateLimit-Limit value: the bucket size. */
  readonly limitHeader: string;
  /** RateLimit-Policy value: `<burst>;w=<seconds to refill it>`. */
  readonly policyHeader: string;
}

/**
 * Null when no limit applies to this route (all scopes off, and no identity limits).
 * `identityLimits`: identities may carry a limit of their own (API key consumers'
 * rate_limit): a fourth scope, key `k:<user id>`, taken in the same store call.
 */
export function createRateLimitPolicy(
  route: RouteConfig,
  config: RateLimitConfig,
  store: BucketStore,
  identityLimits = false,
): Policy | null {
  const scopes: Scope[] = [];
  if (config.global > 0) scopes.push(scope('g', 'shared', config.global, config.global_burst));
  if (config.per_client > 0) scopes.push(scope('c:', 'client', config.per_client, config.per_client_burst));
  if (route.rate_limit) {
    const { per_client, per_client_burst, key } = route.rate_limit;
    // At least 1: a burst below one token would refuse every request.
    const burst = per_client_burst ?? Math.max(1, Math.round(2 * per_client));
    scopes.push(scope(`r:${route.host ?? ''}${route.path}:`, key ?? 'client', per_client, burst));
  }
  if (scopes.length === 0 && !identityLimits) return null;

  const limits: readonly BucketLimits[] = Object.freeze(scopes.map((s) => s.limits));
  const count = scopes.length;
  const anyPerClient = scopes.some((s) => s.keyBy !== 'shared');
  // With only the global scope every request uses the same keys: build them once.
  const sharedKeys: readonly string[] | undefined = anyPerClient
    ? undefined
    : Object.freeze(scopes.map((s) => s.key));

  const apply = (request: PolicyRequest, result: TakeResult): undefined => {
    const shown =
      result.scope < 0
        ? undefined
        : result.scope < count
          ? scopes[result.scope]
          : identityScope(request.identity!.rateLimit!);
    if (shown !== undefined) {
      request.setResponseHeader('ratelimit-limit', shown.limitHeader);
      request.setResponseHeader('ratelimit-remaining', String(result.remaining));
      request.setResponseHeader('ratelimit-reset', String(Math.ceil(result.resetMs / 1000)));
      request.setResponseHeader('ratelimit-policy', shown.policyHeader);
    }
    if (result.allowed) return undefined;
    // The RateLimit-* headers are response headers, which every error answer carries too.
    throw new GatewayError('RATE_LIMITED', {
      headers: retryAfterHeader(result.retryAfterMs),
    });
  };

  return (request) => {
    let keys = sharedKeys;
    if (keys === undefined) {
      const identity = request.identity;
      const client = identity !== undefined ? `u:${identity.userId}` : `ip:${clientKey(request.clientIp)}`;
      const built = new Array<string>(count);
      for (let i = 0; i < count; i++) {
        const { key, keyBy } = scopes[i];
        if (keyBy === 'shared') built[i] = key;
        else if (keyBy === 'ip' && identity !== undefined)
          built[i] = `${key}ip:${clientKey(request.clientIp)}`;
        else built[i] = key + client;
      }
      keys = built;
    }
    let scopeLimits = limits;
    const own = identityLimits ? request.identity?.rateLimit : undefined;
    if (own !== undefined) {
      keys = [...keys, `k:${request.identity!.userId}`];
      scopeLimits = [...limits, own];
    }
    const result = store.take(keys, scopeLimits);
    if (result instanceof Promise) return result.then((settled) => apply(request, settled));
    return apply(request, result);
  };
}

// One Scope per identity limit, made once: identities are long-lived (cached, or the
// keys file's consumers), so this is a lookup, not an allocation per request.
const identityScopes = new WeakMap<object, Scope>();

function identityScope(limits: { readonly rate: number; readonly burst: number }): Scope {
  let found = identityScopes.get(limits);
  if (found === undefined) {
    found = scope('k:', 'user', limits.rate, limits.burst);
    identityScopes.set(limits, found);
  }
  return found;
}

function scope(key: string, keyBy: KeyBy, rate: number, burst: number): Scope {
  // Draft-06 wants whole seconds; rounding the window up never advertises more than the real rate.
  const window = Math.max(1, Math.ceil(burst / rate));
  return {
    key,
    keyBy,
    limits: Object.freeze({ rate, burst }),
    limitHeader: String(burst),
    policyHeader: `${burst};w=${window}`,
  };
}
