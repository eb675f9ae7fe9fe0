// buildRuntime(plan, components) -> a frozen Runtime: everything a request needs,
// assembled once per config from a compiled Plan (runtime/compile.ts) and the
// long-lived components the registry handed out (pools, authenticator, rate-limit
// store). Pure assembly: every check that can fail has already run in compile.
import type { IncomingHttpHeaders } from 'node:http';
import type { Config, RouteConfig } from '../config/schema.ts';
import { compileChain } from '../policies/chain.ts';
import { createCorsPolicy } from '../policies/cors.ts';
import type { PolicyChain } from '../policies/runner.ts';
import { normalizePrefix, Router } from '../routing/router.ts';
import {
  compileRouteRules,
  compileTargets,
  type RouteRules,
  type RouteTargets,
} from '../rules/route-rules.ts';
import { createSchemeResolver } from '../tls/peer.ts';
import type { Plan } from './compile.ts';
import type { Components } from './registry.ts';

export interface CompiledRoute extends RouteRules, RouteTargets {
  /** The configured path: the route's name in logs and metrics. */
  readonly name: string;
  readonly prefix: string;
  readonly stripPrefix: boolean;
  readonly methods: ReadonlySet<string> | null;
  /** Allow header value for a 405. */
  readonly allow: string | undefined;
  readonly serviceName: string;
  /** The route's policies in their order (routes[].policies); null when there are none. */
  readonly chain: PolicyChain | null;
  readonly websocket: boolean;
  /** A gRPC route: proxied over HTTP/2 with trailers, errors answered as gRPC statuses. */
  readonly grpc: boolean;
}

export interface Runtime {
  readonly config: Config;
  readonly router: Router<CompiledRoute>;
  readonly resolveClientIp: (peer: string, headers: IncomingHttpHeaders) => string;
  /** The scheme the client used: own TLS, or a trusted proxy's X-Forwarded-Proto. */
  readonly resolveScheme: ReturnType<typeof createSchemeResolver>;
  /** Whether the TCP peer is a trusted proxy, whose X-Forwarded-* headers are kept. */
  readonly trustsPeer: (peer: string) => boolean;
  /** Lower-cased names of the identity headers the gateway alone may send upstream. */
  readonly identityNames: ReadonlySet<string>;
  readonly userIdHeader: string;
  readonly rolesHeader: string;
}

export function buildRuntime(plan: Plan, components: Components): Runtime {
  const { config } = plan;
  const { pools, authenticator, bucketStore, apiKeys, policyEvents } = components;
  const cors = createCorsPolicy(config.cors);
  const chainDeps = {
    cors,
    authenticator,
    apiKeys,
    bucketStore,
    plugins: plan.plugins,
    events: policyEvents,
  };

  const compile = (route: RouteConfig): CompiledRoute => {
    return Object.freeze({
      name: route.path,
      prefix: normalizePrefix(route.path),
      stripPrefix: route.strip_prefix,
      methods: route.methods ? new Set(route.methods) : null,
      allow: route.methods?.join(', '),
      serviceName: route.service,
      ...compileRouteRules(route),
      ...compileTargets(route, config, pools),
      chain: compileChain(route, config, chainDeps),
      websocket: route.websocket,
      grpc: route.grpc,
    });
  };

  const router = new Router(
    config.routes.map((route) => {
      const value = compile(route);
      return { prefix: route.path, host: route.host, value, conditions: value.conditions };
    }),
  );
  const userIdHeader = config.auth?.user_id_header ?? 'X-User-ID';
  const rolesHeader = config.auth?.roles_header ?? 'X-User-Roles';
  return Object.freeze({
    config,
    router,
    resolveClientIp: plan.resolveClientIp,
    trustsPeer: plan.trustsPeer,
    resolveScheme: createSchemeResolver(plan.trustsPeer),
    // The API key header is listed with them: the gateway consumes the key, so no client
    // copy goes upstream, and no policy may set one.
    identityNames: new Set(
      [userIdHeader, rolesHeader, ...(apiKeys ? [apiKeys.header] : [])].map((name) => name.toLowerCase()),
    ),
    userIdHeader,
    rolesHeader,
  });
}
