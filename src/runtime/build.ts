// buildRuntime(plan, components) -> a frozen Runtime: everything a request needs,
// assembled once per config from a compiled Plan (runtime/compile.ts) and the
// long-lived components the registry handed out (pools, authenticator, rate-limit
// store). Pure assembly: every check that can fail has already run in compile.
import type { IncomingHttpHeaders } from 'node:http';
import type { Config, RouteConfig } from '../config/schema.ts';
import { createAuthPolicy } from '../policies/auth.ts';
import { createCorsPolicy } from '../policies/cors.ts';
import type { Policy } from '../policies/policy.ts';
import { createRateLimitPolicy } from '../policies/rate-limit.ts';
import type { ForwardTarget } from '../proxy/forward.ts';
import { normalizePrefix, Router } from '../routing/router.ts';
import type { Plan } from './compile.ts';
import type { Components } from './registry.ts';

export interface CompiledRoute {
  /** The configured path: the route's name in logs and metrics. */
  readonly name: string;
  readonly prefix: string;
  readonly stripPrefix: boolean;
  readonly methods: ReadonlySet<string> | null;
  /** Allow header value for a 405. */
  readonly allow: string | undefined;
  readonly serviceName: string;
  readonly target: ForwardTarget;
  /** Policies in their fixed order (CORS, auth, rate limit); null when there are none. */
  readonly policies: readonly Policy[] | null;
  /** The name of each policy in `policies`, same order (for traces and the route explainer). */
  readonly policyNames: readonly string[];
  readonly websocket: boolean;
}

export interface Runtime {
  readonly config: Config;
  readonly router: Router<CompiledRoute>;
  readonly resolveClientIp: (peer: string, headers: IncomingHttpHeaders) => string;
  /** Lower-cased names of the identity headers the gateway alone may send upstream. */
  readonly identityNames: ReadonlySet<string>;
  readonly userIdHeader: string;
  readonly rolesHeader: string;
}

export function buildRuntime(plan: Plan, components: Components): Runtime {
  const { config } = plan;
  const { pools, authenticator, bucketStore } = components;
  const cors = createCorsPolicy(config.cors);

  const compile = (route: RouteConfig): CompiledRoute => {
    const service = config.services[route.service];
    const authMode = route.auth ?? (config.auth ? 'required' : 'none');
    const named: [string, Policy | null][] = [
      ['cors', cors],
      ['auth', createAuthPolicy(authMode, authenticator)],
      [
        'rate_limit',
        config.rate_limit && bucketStore
          ? createRateLimitPolicy(route, config.rate_limit, bucketStore)
          : null,
      ],
    ];
    const chain = named.filter((entry): entry is [string, Policy] => entry[1] !== null);
    const policies = chain.map(([, policy]) => policy);
    return Object.freeze({
      name: route.path,
      prefix: normalizePrefix(route.path),
      stripPrefix: route.strip_prefix,
      methods: route.methods ? new Set(route.methods) : null,
      allow: route.methods?.join(', '),
      serviceName: route.service,
      target: Object.freeze({
        pool: pools.get(route.service)!,
        headersTimeout: service.timeout,
        bodyTimeout: service.body_timeout,
        bodyLimit: config.server.body_limit,
      }),
      policies: policies.length > 0 ? Object.freeze(policies) : null,
      policyNames: Object.freeze(chain.map(([name]) => name)),
      websocket: route.websocket,
    });
  };

  const router = new Router(
    config.routes.map((route) => ({ prefix: route.path, host: route.host, value: compile(route) })),
  );
  const userIdHeader = config.auth?.user_id_header ?? 'X-User-ID';
  const rolesHeader = config.auth?.roles_header ?? 'X-User-Roles';
  return Object.freeze({
    config,
    router,
    resolveClientIp: plan.resolveClientIp,
    identityNames: new Set([userIdHeader.toLowerCase(), rolesHeader.toLowerCase()]),
    userIdHeader,
    rolesHeader,
  });
}
