// build(config, registry) -> a frozen Runtime: everything a request needs, compiled
// once per config. Long-lived state (pools, health, breakers, caches, Redis) comes
// from the registry, so building a new snapshot on reload keeps it.
import type { IncomingHttpHeaders } from 'node:http';
import type { Config, RouteConfig } from '../config/schema.ts';
import { createAuthPolicy } from '../policies/auth.ts';
import { createCorsPolicy } from '../policies/cors.ts';
import type { Policy } from '../policies/policy.ts';
import { createRateLimitPolicy } from '../policies/rate-limit.ts';
import { createRequireHttpsPolicy } from '../policies/require-https.ts';
import { createClientAddressResolver } from '../proxy/client-address.ts';
import type { ForwardTarget } from '../proxy/forward.ts';
import { normalizePrefix, Router } from '../routing/router.ts';
import { createSchemeResolver } from '../tls/peer.ts';
import type { GatewayRegistry } from './registry.ts';

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
  readonly websocket: boolean;
}

export interface Runtime {
  readonly config: Config;
  readonly router: Router<CompiledRoute>;
  readonly resolveClientIp: (peer: string, headers: IncomingHttpHeaders) => string;
  /** The scheme the client used: own TLS, or a trusted proxy's X-Forwarded-Proto. */
  readonly resolveScheme: ReturnType<typeof createSchemeResolver>;
  /** Lower-cased names of the identity headers the gateway alone may send upstream. */
  readonly identityNames: ReadonlySet<string>;
  readonly userIdHeader: string;
  readonly rolesHeader: string;
}

export function buildRuntime(config: Config, registry: GatewayRegistry): Runtime {
  const pools = registry.upstreams.sync(config.services);
  const authenticator = registry.authenticatorFor(config.auth);
  const bucketStore = registry.bucketStoreFor(config.rate_limit);
  const cors = createCorsPolicy(config.cors);
  const requireHttps = createRequireHttpsPolicy(config.auth);

  const compile = (route: RouteConfig): CompiledRoute => {
    const service = config.services[route.service];
    const authMode = route.auth ?? (config.auth ? 'required' : 'none');
    const policies = [
      cors,
      requireHttps,
      createAuthPolicy(authMode, authenticator),
      config.rate_limit && bucketStore ? createRateLimitPolicy(route, config.rate_limit, bucketStore) : null,
    ].filter((policy): policy is Policy => policy !== null);
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
    resolveClientIp: createClientAddressResolver(config.server.trusted_proxies),
    resolveScheme: createSchemeResolver(config.server.trusted_proxies),
    identityNames: new Set([userIdHeader.toLowerCase(), rolesHeader.toLowerCase()]),
    userIdHeader,
    rolesHeader,
  });
}
