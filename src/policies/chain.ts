// compileChain(route, config, deps) -> the route's policy chain, once per config: the
// built-ins (cors, ip, auth, roles, rate_limit) and the plugins, in the order the
// route's `policies` lists (absent: the built-in order, then nothing else). A built-in
// with nothing to do on the route (no cors section, auth: none, no roles...) leaves no
// step, so a route without policies has a null chain and the runner is never called.
// Whether an order is possible (roles after auth, a per-user limit after auth, every
// name known) is checked by the config schema, so `validate` refuses it with its line.
import type { ApiKeyStore } from '../auth/api-keys.ts';
import type { Authenticator } from '../auth/authenticator.ts';
import type { Config, RouteConfig } from '../config/schema.ts';
import type { BucketStore } from '../ratelimit/store.ts';
import { createAuthPolicy } from './auth.ts';
import type { PolicyEvents } from './events.ts';
import { createIpPolicy } from './ip.ts';
import type { BuiltinPolicy, Policy } from './policy.ts';
import { createRateLimitPolicy } from './rate-limit.ts';
import { createRequireHttpsPolicy } from './require-https.ts';
import { createRolesPolicy } from './roles.ts';
import type { ChainStep, PolicyChain } from './runner.ts';

/** The built-in policy names, in their default order. */
export const BUILTIN_POLICIES = ['cors', 'ip', 'auth', 'roles', 'rate_limit'] as const;
export type BuiltinName = (typeof BUILTIN_POLICIES)[number];

/** A plugin's policy, created from its module and options at compile time. */
export interface PluginPolicy {
  readonly policy: Policy;
  readonly timeoutMs: number;
}

export interface ChainDeps {
  /** The CORS policy of the config (one for every route), or null without a cors section. */
  readonly cors: BuiltinPolicy | null;
  readonly authenticator: Authenticator | undefined;
  readonly apiKeys: ApiKeyStore | undefined;
  readonly bucketStore: BucketStore | undefined;
  readonly plugins: ReadonlyMap<string, PluginPolicy>;
  readonly events: PolicyEvents;
}

export function compileChain(route: RouteConfig, config: Config, deps: ChainDeps): PolicyChain | null {
  const order: readonly string[] = route.policies ?? BUILTIN_POLICIES;
  const steps: ChainStep[] = [];
  for (const name of order) {
    const plugin = deps.plugins.get(name);
    if (plugin !== undefined) {
      steps.push(Object.freeze({ name, run: plugin.policy, timeoutMs: plugin.timeoutMs, checkReply: true }));
      continue;
    }
    const run = builtin(name as BuiltinName, route, config, deps);
    if (run !== null) steps.push(Object.freeze({ name, run, timeoutMs: undefined, checkReply: false }));
  }
  if (steps.length === 0) return null;
  const routeName = route.path;
  const events = deps.events;
  return Object.freeze({
    steps: Object.freeze(steps),
    observer: Object.freeze({
      rejected: (policy: string, code: string) => events.rejected(routeName, policy, code),
      failed: events.failed,
    }),
  });
}

function builtin(
  name: BuiltinName,
  route: RouteConfig,
  config: Config,
  deps: ChainDeps,
): BuiltinPolicy | null {
  switch (name) {
    case 'cors':
      return deps.cors;
    case 'ip':
      return createIpPolicy(route);
    case 'auth':
      return withHttpsCheck(
        createRequireHttpsPolicy(config.auth, [
          'authorization',
          ...(deps.apiKeys ? [deps.apiKeys.header] : []),
        ]),
        createAuthPolicy(
          route.auth ?? (config.auth || config.api_keys ? 'required' : 'none'),
          deps.authenticator,
          deps.apiKeys,
        ),
      );
    case 'roles':
      return createRolesPolicy(route.roles);
    case 'rate_limit':
      return config.rate_limit && deps.bucketStore
        ? createRateLimitPolicy(route, config.rate_limit, deps.bucketStore, deps.apiKeys !== undefined)
        : null;
  }
}

/**
 * auth.require_https runs as the first half of the auth step, so a credential that came
 * in clear text is refused before anything could send it to the auth service; on a
 * route without auth it still refuses the credential.
 */
function withHttpsCheck(check: BuiltinPolicy | null, auth: BuiltinPolicy | null): BuiltinPolicy | null {
  if (check === null || auth === null) return check ?? auth;
  return (request) => {
    check(request);
    return auth(request);
  };
}
