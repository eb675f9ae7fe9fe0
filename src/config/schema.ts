// The configuration's single source of truth: validation, defaults, the JSON Schema
// printed by `gatehouse schema`, the environment overrides (config/env.ts) and the
// reference in docs/CONFIGURATION.md are all derived from this file.
import { z } from 'zod';
import { BUILTIN_NAMES, orderProblems } from '../policies/order.ts';
import { cidrProblem } from '../proxy/cidr-list.ts';
import { conditionsOf, mayOverlap } from '../routing/conditions.ts';
import { regexProblem } from '../routing/regex-safety.ts';
import { templateProblem } from '../routing/rewrite.ts';
import { forbiddenHeaderProblem, valueTemplateProblem } from '../rules/header-transform.ts';
import { DURATION_PATTERN, parseDuration, parseSize, SIZE_PATTERN } from './units.ts';

/** A duration string (`250ms`, `30s`, `5m`) parsed to milliseconds. */
function duration(fallback: string, description: string) {
  return z
    .string()
    .regex(new RegExp(DURATION_PATTERN), 'expected a duration such as 250ms, 30s or 5m')
    .transform((text) => parseDuration(text)!)
    .refine((ms) => ms > 0, 'must be longer than 0')
    .prefault(fallback)
    .describe(description);
}

/** An optional duration: absent stays undefined. */
function optionalDuration(description: string) {
  return z
    .string()
    .regex(new RegExp(DURATION_PATTERN), 'expected a duration such as 250ms, 30s or 5m')
    .transform((text) => parseDuration(text)!)
    .refine((ms) => ms > 0, 'must be longer than 0')
    .optional()
    .describe(description);
}

/** A string the given check accepts (the check returns why not, or undefined). */
function checked(schema: z.ZodString, problem: (value: string) => string | undefined) {
  return schema.superRefine((value, ctx) => {
    const found = problem(value);
    if (found) ctx.addIssue({ code: 'custom', message: found });
  });
}

/** A size string (`512b`, `64kb`, `10mb`) parsed to bytes. */
function size(fallback: string, description: string) {
  return z
    .string()
    .regex(new RegExp(SIZE_PATTERN), 'expected a size such as 512b, 64kb or 10mb')
    .transform((text) => parseSize(text)!)
    .prefault(fallback)
    .describe(description);
}

const port = z.number().int().min(0).max(65535);
const positiveInt = z.number().int().positive();
const httpUrl = z.url({
  protocol: /^https?$/,
  // `127.0.0.1:3001` and `localhost` are the usual slips: say what is missing.
  error: (issue) =>
    typeof issue.input === 'string' && !issue.input.includes('://')
      ? `expected an http:// or https:// URL; "${issue.input}" has no scheme (http://${issue.input}?)`
      : 'expected an http:// or https:// URL',
});
/** An upstream instance: scheme, host, port and an optional base path; nothing that would be silently dropped. */
const instanceUrl = httpUrl.refine((text) => {
  // Refinements run even when the URL check failed; that failure is already reported.
  if (!URL.canParse(text)) return true;
  const url = new URL(text);
  return url.search === '' && url.hash === '' && url.username === '' && url.password === '';
}, 'an instance URL takes no query, fragment or credentials');
const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'expected an HTTP header name');
const method = z
  .string()
  .regex(/^[A-Z]+$/, 'expected an upper-case HTTP method such as GET')
  .describe('An HTTP method');

const cidr = z
  .string()
  .regex(/^[0-9a-fA-F:.]+(\/\d{1,3})?$/, 'expected an IP address or CIDR such as 10.0.0.0/8')
  .describe('An IP address or CIDR range');

const pemFile = (description: string) => z.string().min(1).nullish().describe(description);

/** TLS towards an upstream or the auth service: verification is never switched off. */
export const clientTlsSchema = z
  .strictObject({
    ca_file: pemFile('PEM file of CA certificates trusted in addition to the system roots (a private CA).'),
    cert_file: pemFile('PEM client certificate (chain) presented for mTLS; needs key_file.'),
    key_file: pemFile('PEM private key of cert_file.'),
    server_name: z
      .string()
      .regex(/^[A-Za-z0-9.-]+$/, 'expected a host name')
      .nullish()
      .describe('Name sent in SNI and checked against the certificate (default: the URL host).'),
  })
  .superRefine((tls, ctx) => {
    if (!tls.cert_file !== !tls.key_file) {
      ctx.addIssue({
        code: 'custom',
        path: [tls.cert_file ? 'key_file' : 'cert_file'],
        message: 'cert_file and key_file go together',
      });
    }
  })
  .describe('TLS settings for https:// URLs: extra CA, client certificate, SNI name.');

export const circuitBreakerSchema = z
  .strictObject({
    max_requests: positiveInt
      .default(3)
      .describe(
        'Trial requests admitted while half-open; that many consecutive successes close the breaker.',
      ),
    interval: duration('60s', 'Length of the closed-state counting window.'),
    timeout: duration('30s', 'How long the breaker stays open before it lets trial requests through.'),
    failure_ratio: z
      .number()
      .gt(0)
      .lte(1)
      .default(0.6)
      .describe('Failures / requests in a window at or above which the breaker trips, in (0, 1].'),
    min_requests: positiveInt.default(3).describe('Requests a window needs before the ratio is considered.'),
  })
  .prefault({})
  .describe('Circuit breaker per upstream instance (gobreaker semantics).');

const healthCheckSchema = z
  .strictObject({
    type: z
      .enum(['http', 'grpc'])
      .default('http')
      .describe(
        'http: GET path, 2xx/3xx passes. grpc: grpc.health.v1.Health/Check over HTTP/2 (needs http2: true), SERVING passes.',
      ),
    path: z.string().startsWith('/').default('/health').describe('Path probed with GET on every instance.'),
    grpc_service: z
      .string()
      .default('')
      .describe('With type: grpc, the service name asked about ("" is the server as a whole).'),
    interval: duration('30s', 'Time between probes of a healthy instance.'),
    timeout: duration('5s', 'Deadline of one probe.'),
    retries: positiveInt
      .default(3)
      .describe('Consecutive failed probes before an instance is marked unhealthy.'),
    max_backoff: duration('5m', 'Cap of the exponential backoff between probes of a failing instance.'),
  })
  .describe(
    'Active health checks. Without this section every instance is taken as healthy (the breaker still guards it).',
  );

const instanceSchema = z.strictObject({
  url: instanceUrl.describe(
    'Base URL of the instance, e.g. http://10.0.0.7:8080 (a path is prepended to every request).',
  ),
  weight: positiveInt.default(1).describe('Relative share of traffic with load_balancing: weighted.'),
});

const discoverySchema = z
  .strictObject({
    dns: z
      .string()
      .min(1)
      .describe(
        'Host name whose A/AAAA records are the instances (a Kubernetes headless service, Consul DNS).',
      ),
    port: port.min(1).describe('Port of every discovered instance.'),
    protocol: z
      .enum(['http', 'https'])
      .default('http')
      .describe('Scheme used to reach discovered instances.'),
    interval: duration('10s', 'How often the name is resolved again.'),
  })
  .describe('Instances discovered from DNS instead of listed.');

export const serviceSchema = z
  .strictObject({
    url: instanceUrl.optional().describe('One instance.'),
    urls: z.array(instanceUrl).min(1).optional().describe('Several instances of equal weight.'),
    instances: z
      .array(instanceSchema)
      .min(1)
      .optional()
      .describe('Several instances with weights (long form of urls).'),
    discovery: discoverySchema.optional(),
    load_balancing: z
      .enum(['round_robin', 'weighted', 'least_connections'])
      .default('round_robin')
      .describe('How an instance is picked among the available ones.'),
    timeout: duration(
      '30s',
      'Deadline, past which the client gets 504: for a connection to an instance (queued or connecting), then for the response headers once the whole request has been sent.',
    ),
    connect_timeout: duration('5s', 'Deadline for opening a connection to an instance.'),
    body_timeout: duration(
      '30s',
      'Longest silence allowed while the upstream streams its response body, and longest wait for a client that stopped reading it.',
    ),
    keep_alive_timeout: duration(
      '4s',
      "Idle time after which a pooled upstream connection is closed; keep it below the upstream's own.",
    ),
    max_connections: positiveInt.default(256).describe('Connections in the pool of each instance.'),
    health_check: healthCheckSchema.optional(),
    circuit_breaker: circuitBreakerSchema,
    tls: clientTlsSchema.optional(),
    pass_host: z
      .boolean()
      .default(false)
      .describe("Send the client's Host header upstream instead of the instance's host:port."),
    http2: z
      .boolean()
      .default(false)
      .describe(
        'HTTP/2 to the instances, one multiplexed session each: ALPN h2 on https, prior knowledge (h2c) on http. Needed by grpc routes.',
      ),
  })
  .superRefine((service, ctx) => {
    if (service.health_check?.type === 'grpc' && !service.http2) {
      ctx.addIssue({
        code: 'custom',
        path: ['health_check', 'type'],
        message: 'a grpc health check needs http2: true on the service',
      });
    }
    const listed = service.urls ?? service.instances?.map((instance) => instance.url) ?? [];
    const origins = listed.filter((url) => URL.canParse(url)).map((url) => new URL(url).origin);
    const repeated = origins.find((origin, index) => origins.indexOf(origin) !== index);
    if (repeated) {
      ctx.addIssue({
        code: 'custom',
        path: [service.urls ? 'urls' : 'instances'],
        message: `${repeated} is listed twice`,
      });
    }
    const given = (['url', 'urls', 'instances', 'discovery'] as const).filter(
      (key) => service[key] !== undefined,
    );
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          given.length === 0
            ? 'a service needs its instances: one of url, urls, instances or discovery'
            : `give only one of url, urls, instances or discovery (found ${given.join(', ')})`,
      });
    }
  });

const expectationSchema = z
  .union([
    z.string(),
    z.strictObject({
      present: z
        .literal(true)
        .describe('Only require the header or parameter to be present, whatever its value.'),
    }),
  ])
  .describe('An exact value, or { present: true }.');

const matchSchema = z
  .strictObject({
    headers: z
      .record(headerName, expectationSchema)
      .optional()
      .describe(
        'Request headers the route requires: name -> exact value or { present: true }. Names are case-insensitive.',
      ),
    query: z
      .record(z.string().min(1), expectationSchema)
      .optional()
      .describe(
        'Query parameters the route requires (first occurrence, percent-decoded): name -> exact value or { present: true }.',
      ),
  })
  .describe(
    'Extra conditions. Among routes whose prefix matches, the longest prefix wins, then the one with more conditions; a prefix whose routes all fail their conditions falls back to shorter prefixes.',
  );

const rewriteSchema = z
  .strictObject({
    regex: checked(z.string(), regexProblem).describe(
      'Regular expression on the normalized path, anchored with ^; refused when it can backtrack catastrophically (see docs/ROUTING.md).',
    ),
    replacement: checked(z.string(), (text) => templateProblem(text, 'replacement')).describe(
      'Replacement of the first match; $1, $2… are the capture groups. The result must be a normalized path (400 otherwise).',
    ),
  })
  .describe('Rewrite the path sent upstream (instead of strip_prefix).');

const redirectSchema = z
  .strictObject({
    location: checked(z.string().min(1), (text) => templateProblem(text, 'location')).describe(
      'Location of the answer; $1, $2… are the capture groups of rewrite.regex when the route has one.',
    ),
    status: z
      .union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)])
      .default(302)
      .describe('301, 302, 303, 307 or 308.'),
  })
  .describe('Answer every request of the route with a redirect; nothing is proxied.');

const PLACEHOLDER_NAMES = ['request_id', 'client_ip', 'user_id', 'route'].map((name) => `$\{${name}}`);
const headerTemplate = checked(z.string(), valueTemplateProblem).describe(
  `A header value; ${PLACEHOLDER_NAMES.join(', ')} are replaced (a value that renders empty is not sent).`,
);

const headerTransformSchema = (direction: string) =>
  z
    .strictObject({
      set: z
        .record(headerName, headerTemplate)
        .default({})
        .describe('Headers to set, replacing any value already there.'),
      add: z.record(headerName, headerTemplate).default({}).describe('Headers to add beside existing ones.'),
      remove: z.array(headerName).default([]).describe('Headers to remove.'),
    })
    .describe(
      `Edit the headers ${direction}. Hop-by-hop, framing, Host, identity and gateway-set headers (X-Request-ID, X-Forwarded-*) are refused.`,
    );

const retriesSchema = z
  .strictObject({
    attempts: z
      .number()
      .int()
      .min(1)
      .max(5)
      .describe(
        'Retries after the first attempt, each on another instance, only when safe (see docs/ROUTING.md).',
      ),
    budget: z
      .number()
      .min(0)
      .max(1)
      .default(0.2)
      .describe('Most retries / requests over a sliding 10 s window: 0.2 lets retries add at most 20% load.'),
    min_retries: z
      .number()
      .int()
      .min(0)
      .default(3)
      .describe('Retries allowed in any 10 s window whatever the budget, so a quiet route can still retry.'),
  })
  .describe('Retries beyond the single failover the gateway always makes when nothing reached an instance.');

const splitSchema = z
  .array(
    z.strictObject({
      service: z.string().min(1).describe('A service under services.'),
      weight: positiveInt.describe('Relative share of requests.'),
    }),
  )
  .min(2)
  .describe(
    'Canary split: each request goes to one of these services by weight; requests with the same X-Canary-Key header always go to the same one.',
  );

const ipList = (description: string) =>
  z
    .array(checked(z.string(), cidrProblem).describe('An IP address or CIDR range'))
    .min(1)
    .optional()
    .describe(description);

const routeRateLimitSchema = z
  .strictObject({
    per_client: z.number().positive().describe('Tokens per second for each client on this route.'),
    per_client_burst: positiveInt
      .optional()
      .describe('Bucket size for each client on this route (default: 2 x per_client).'),
    key: z
      .enum(['client', 'ip', 'user'])
      .default('client')
      .describe(
        'Who gets a bucket on this route: client (the user once auth found one, else the address), ip (always the address), user (the identity: needs auth: required and rate_limit after auth in policies).',
      ),
  })
  .describe('A per-client limit for this route, applied on top of the global ones.');

export const routeSchema = z
  .strictObject({
    path: z
      .string()
      .regex(/^\/[^?#]*$/, 'expected a path starting with / and without ? or #')
      .describe(
        'Path prefix, matched on whole segments: /api/users matches /api/users/1, never /api/usersX.',
      ),
    service: z.string().min(1).describe('Name of the service (under services) that serves this route.'),
    strip_prefix: z
      .boolean()
      .default(false)
      .describe('Remove the matched prefix before forwarding: /api/users/1 -> /1.'),
    auth: z
      .enum(['required', 'optional', 'none'])
      .optional()
      .describe(
        'required when an auth or api_keys section exists, else none. optional forwards the identity when a valid credential (bearer token or API key) is present.',
      ),
    methods: z
      .array(method)
      .min(1)
      .optional()
      .describe('Accepted methods; others get 405. All methods when absent.'),
    host: z
      .string()
      .regex(/^(\*\.)?[A-Za-z0-9.-]+$/, 'expected a host name, optionally starting with *.')
      .optional()
      .describe('Only match requests for this Host (exact, or *.example.com for any subdomain).'),
    websocket: z
      .boolean()
      .default(false)
      .describe('Tunnel Upgrade: websocket requests to the upstream after the policies pass.'),
    grpc: z
      .boolean()
      .default(false)
      .describe(
        "Proxy gRPC over HTTP/2 end to end (trailers, streaming, grpc-timeout); the gateway's own errors become gRPC statuses. The service needs http2: true.",
      ),
    rate_limit: routeRateLimitSchema.optional(),
    roles: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('The identity must hold one of these roles, else 403 FORBIDDEN (needs auth on the route).'),
    policies: z
      .array(z.string().regex(/^[A-Za-z0-9_-]+$/, 'expected a policy name'))
      .optional()
      .describe(
        'Order of the policies on this route: built-ins (cors, ip, auth, roles, rate_limit) and plugin names. Absent: cors, ip, auth, roles, rate_limit. Every built-in that applies to the route must be listed.',
      ),
    match: matchSchema.optional(),
    rewrite: rewriteSchema.optional(),
    redirect: redirectSchema.optional(),
    request_headers: headerTransformSchema('sent upstream').optional(),
    response_headers: headerTransformSchema('returned to the client').optional(),
    timeout: optionalDuration(
      "Deadline for the upstream response headers on this route, instead of the service's timeout.",
    ),
    retries: retriesSchema.optional(),
    split: splitSchema.optional(),
    ip_allow: ipList(
      'Only these client addresses and CIDRs may use the route (403 FORBIDDEN otherwise), as resolved through server.trusted_proxies.',
    ),
    ip_deny: ipList('These client addresses and CIDRs get 403 FORBIDDEN (checked before ip_allow).'),
  })
  .superRefine((route, ctx) => {
    for (const direction of ['request_headers', 'response_headers'] as const) {
      const transform = route[direction];
      if (!transform) continue;
      const report = (path: (string | number)[], name: string) => {
        const problem = forbiddenHeaderProblem(name);
        if (problem) ctx.addIssue({ code: 'custom', path: [direction, ...path], message: problem });
      };
      for (const name of Object.keys(transform.set)) report(['set', name], name);
      for (const name of Object.keys(transform.add)) report(['add', name], name);
      transform.remove.forEach((name, index) => {
        report(['remove', index], name);
      });
    }
    if (route.redirect && route.websocket) {
      ctx.addIssue({
        code: 'custom',
        path: ['redirect'],
        message: 'a redirect route answers every request itself: it cannot also tunnel WebSockets',
      });
    }
    if (route.rewrite && route.strip_prefix) {
      ctx.addIssue({
        code: 'custom',
        path: ['rewrite'],
        message: 'use either rewrite or strip_prefix, not both',
      });
    }
    if (route.split) {
      const names = route.split.map((side) => side.service);
      if (!names.includes(route.service)) {
        ctx.addIssue({
          code: 'custom',
          path: ['split'],
          message: `the split must include the route's service "${route.service}"`,
        });
      }
      const repeated = names.find((name, index) => names.indexOf(name) !== index);
      if (repeated) ctx.addIssue({ code: 'custom', path: ['split'], message: `${repeated} is listed twice` });
    }
  });

export const authSchema = z
  .strictObject({
    mode: z
      .enum(['remote', 'jwt'])
      .default('remote')
      .describe('remote asks verify_url; jwt verifies tokens locally.'),
    verify_url: httpUrl
      .optional()
      .describe("remote mode: GET with the client's Authorization header; 2xx is valid, 401/403 invalid."),
    cache_ttl: duration(
      '5m',
      'Longest time a verified token is trusted without asking again (never past its exp).',
    ),
    negative_cache_ttl: duration(
      '10s',
      'How long a refused token is remembered, so a flood of one bad token stays local.',
    ),
    cache_max_entries: positiveInt.default(100_000).describe('Bound of the verification cache.'),
    timeout: duration('2s', 'Deadline of one verify attempt.'),
    retries: z
      .number()
      .int()
      .min(0)
      .max(10)
      .default(3)
      .describe('Further attempts after a network error or 5xx, with exponential backoff and jitter.'),
    max_calls_per_second: z
      .number()
      .positive()
      .default(100)
      .describe('Rate limit on calls to the auth service itself.'),
    failed_per_client: z
      .number()
      .min(0)
      .default(5)
      .describe(
        'remote mode: verify calls ending in a refusal (401) that one client address may cause per second (token bucket, burst of one second); past it that address gets 429 RATE_LIMITED with no call made, so it cannot spend max_calls_per_second for everybody. 0 turns the share off.',
      ),
    circuit_breaker: circuitBreakerSchema,
    user_id_header: headerName.default('X-User-ID').describe('Header that carries the user id upstream.'),
    roles_header: headerName
      .default('X-User-Roles')
      .describe('Header that carries the comma-joined roles upstream.'),
    user_id_claim: z
      .string()
      .min(1)
      .default('sub')
      .describe('Claim (jwt mode) or answer field (remote mode, after user_id) that names the user.'),
    roles_claim: z
      .string()
      .min(1)
      .default('roles')
      .describe('Claim or answer field holding the roles array.'),
    jwks_url: httpUrl.optional().describe('jwt mode: where the signing keys are published.'),
    public_key: z.string().min(1).optional().describe('jwt mode: a PEM public key, instead of jwks_url.'),
    algorithms: z
      .array(
        z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']),
      )
      .min(1)
      .default(['RS256', 'ES256'])
      .describe('jwt mode: accepted signing algorithms (none is never accepted).'),
    issuer: z.string().min(1).optional().describe('jwt mode: required iss claim.'),
    audience: z.string().min(1).optional().describe('jwt mode: required aud claim.'),
    clock_tolerance: duration('30s', 'jwt mode: allowed clock skew for exp and nbf.'),
    jwks_cooldown: duration('30s', 'jwt mode: least time between two JWKS fetches caused by an unknown kid.'),
    require_https: z
      .boolean()
      .default(false)
      .describe(
        "A request carrying a credential (Authorization) that did not arrive over HTTPS (own TLS, or a trusted proxy's X-Forwarded-Proto: https) gets 403 HTTPS_REQUIRED.",
      ),
    tls: clientTlsSchema.optional(),
  })
  .superRefine((auth, ctx) => {
    if (auth.mode === 'remote' && !auth.verify_url) {
      ctx.addIssue({ code: 'custom', path: ['verify_url'], message: 'remote mode needs verify_url' });
    }
    if (auth.mode === 'jwt' && !auth.jwks_url === !auth.public_key) {
      ctx.addIssue({
        code: 'custom',
        path: ['jwks_url'],
        message: 'jwt mode needs exactly one of jwks_url or public_key',
      });
    }
  })
  .describe('Authentication of bearer tokens.');

export const rateLimitSchema = z
  .strictObject({
    global: z
      .number()
      .min(0)
      .default(100)
      .describe('Tokens per second for the whole gateway (0 turns the global limit off).'),
    global_burst: positiveInt.default(200).describe('Size of the global bucket.'),
    per_client: z
      .number()
      .min(0)
      .default(10)
      .describe('Tokens per second for each client (0 turns the per-client limit off).'),
    per_client_burst: positiveInt.default(20).describe("Size of each client's bucket."),
    store: z
      .enum(['memory', 'redis'])
      .default('memory')
      .describe('memory for one gateway; redis to share buckets between gateways.'),
    redis_url: z
      .string()
      .regex(/^rediss?:\/\//, 'expected a redis:// URL')
      .default('redis://127.0.0.1:6379')
      .describe('Redis for store: redis.'),
    redis_timeout: duration('100ms', 'Deadline of one Redis decision; past it on_store_error decides.'),
    on_store_error: z
      .enum(['allow', 'deny'])
      .default('allow')
      .describe('What to do when Redis is down, slow or failing.'),
    key_prefix: z.string().default('gatehouse:rl:').describe('Namespace of the Redis keys.'),
    max_clients: positiveInt
      .default(1_000_000)
      .describe('Bound of the memory store (least recently used clients are forgotten first).'),
  })
  .describe('Token-bucket rate limits. Without this section nothing is limited.');

const corsSchema = z
  .strictObject({
    allowed_origins: z
      .array(z.string().min(1))
      .min(1)
      .describe(
        'Exact origins (https://app.example.com), wildcard subdomains (https://*.example.com) or * for any.',
      ),
    allowed_methods: z
      .array(method)
      .default(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'])
      .describe('Methods a preflight may ask for.'),
    allowed_headers: z
      .array(headerName)
      .default(['Authorization', 'Content-Type', 'X-Request-ID'])
      .describe('Request headers a preflight may ask for.'),
    exposed_headers: z
      .array(headerName)
      .default(['X-Request-ID', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After'])
      .describe('Response headers the page may read.'),
    allow_credentials: z
      .boolean()
      .default(false)
      .describe('Let the browser send cookies and credentials (never with *).'),
    max_age: duration('10m', 'How long browsers may cache a preflight answer.'),
  })
  .superRefine((cors, ctx) => {
    if (cors.allow_credentials && cors.allowed_origins.includes('*')) {
      ctx.addIssue({
        code: 'custom',
        path: ['allowed_origins'],
        message: '* cannot be combined with allow_credentials',
      });
    }
  })
  .describe('Cross-origin resource sharing for browser clients.');

const serverCertificateSchema = z.strictObject({
  cert_file: z.string().min(1).describe('PEM certificate chain, leaf first.'),
  key_file: z.string().min(1).describe('PEM private key of the leaf certificate.'),
});

const serverTlsSchema = z
  .strictObject({
    certificates: z
      .array(serverCertificateSchema)
      .min(1)
      .describe(
        'Certificates; the first is the default, the others are chosen by SNI from their SANs (exact or *.wildcard).',
      ),
    min_version: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2').describe('Oldest TLS version accepted.'),
    client_ca_file: z
      .string()
      .min(1)
      .nullish()
      .describe('Set: clients must present a certificate signed by a CA in this PEM file (mTLS).'),
    port: port
      .nullish()
      .describe(
        'Set: HTTPS listens on this port and server.port keeps serving plain HTTP; unset: server.port speaks HTTPS.',
      ),
    expired: z
      .enum(['refuse', 'warn'])
      .default('refuse')
      .describe('An expired certificate fails validate and start (refuse) or only logs a warning (warn).'),
    ticket_key_rotation: duration('12h', 'How often the session ticket key is replaced.'),
  })
  .describe('Present: the public listener speaks HTTPS (TLS 1.2+).');

const serverSchema = z
  .strictObject({
    host: z.string().default('0.0.0.0').describe('Address the public listener binds.'),
    port: port.default(8080).describe('Port of the public listener (0 picks a free one).'),
    body_limit: size('10mb', 'Largest request body; larger ones get 413, also mid-stream.'),
    trusted_proxies: z
      .array(cidr)
      .default([])
      .describe('Peers whose X-Forwarded-For / Forwarded may name the client.'),
    shutdown_timeout: duration('30s', 'Drain time on SIGTERM before remaining connections are closed.'),
    headers_timeout: duration('10s', "Deadline for receiving a request's headers (slow-loris guard)."),
    request_timeout: duration('5m', 'Deadline for receiving a whole request, body included.'),
    keep_alive_timeout: duration('5s', 'Idle time before a client keep-alive connection is closed.'),
    max_header_size: size('16kb', 'Largest request head; larger ones get 431.'),
    max_connections: positiveInt
      .default(10_000)
      .describe('Client connections held at once; further ones are refused.'),
    workers: z
      .union([z.literal('auto'), z.coerce.number().int().min(1).max(256)])
      .default(1)
      .describe(
        'Worker threads serving the public port: a number, or auto for one per available core. Rate limits stay one budget for the whole gateway.',
      ),
    tls: serverTlsSchema.optional(),
    http2: z.boolean().default(true).describe('With tls: ALPN offers h2 and http/1.1 on one port.'),
    http2_max_concurrent_streams: positiveInt
      .default(100)
      .describe('Streams one HTTP/2 connection may have open at once.'),
    http2_max_resets: positiveInt
      .default(100)
      .describe(
        'Streams an HTTP/2 client may cancel within http2_reset_window before its connection gets GOAWAY (rapid reset, CVE-2023-44487).',
      ),
    http2_reset_window: duration('10s', 'Window over which cancelled HTTP/2 streams are counted.'),
    redirect_http_port: port
      .nullish()
      .describe('With tls: a plain listener on this port answers 308 to the https:// URL, nothing else.'),
    hsts: z
      .string()
      .regex(/^\d+(s|m|h|d)$/, 'expected a duration such as 365d, 12h or 300s')
      .nullish()
      .describe('With tls, e.g. 365d: Strict-Transport-Security max-age on every HTTPS answer.'),
  })
  .superRefine((server, ctx) => {
    if (server.tls) return;
    for (const key of ['redirect_http_port', 'hsts'] as const) {
      if (server[key] !== undefined && server[key] !== null)
        ctx.addIssue({ code: 'custom', path: [key], message: `${key} needs server.tls` });
    }
  })
  .prefault({});

const adminSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Serve the admin listener.'),
    host: z
      .string()
      .default('127.0.0.1')
      .describe('Address of the admin listener (metrics, status, reload).'),
    port: port.default(9090).describe('Port of the admin listener (0 picks a free one).'),
    token: z
      .string()
      .min(16, 'use at least 16 characters')
      .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces (it travels in a header)')
      .optional()
      .describe(
        'Set: every admin endpoint but /health and /ready needs "Authorization: Bearer <token>". Unset: keep the admin listener on loopback.',
      ),
  })
  .prefault({});

const logSchema = z
  .strictObject({
    level: z
      .string()
      .regex(/^(debug|info|warn|error)$/i, 'expected debug, info, warn or error')
      .toLowerCase()
      .pipe(z.enum(['debug', 'info', 'warn', 'error']))
      .default('info')
      .describe('Least severe level written (any case: DEBUG is debug).'),
    access_log: z.boolean().default(true).describe('One JSON line per request.'),
    format: z
      .enum(['json', 'pretty'])
      .default('json')
      .describe('json: one JSON object a line. pretty: coloured, human-readable lines for a terminal.'),
  })
  .prefault({});

const apiKeysSchema = z
  .strictObject({
    header: headerName.default('X-API-Key').describe('Request header that carries the API key.'),
    keys_file: z
      .string()
      .min(1)
      .describe(
        'YAML file of the consumers (name, key_sha256, roles, rate_limit), relative to the config file; watched and reloaded on change.',
      ),
  })
  .describe(
    'API keys: a known key makes its consumer the identity. With an auth section too, auth: required accepts either credential.',
  );

const pluginSchema = z.strictObject({
  module: z
    .string()
    .min(1)
    .describe(
      'Path of the module (TypeScript or JavaScript), relative to the config file. Its default export is the factory create(options, context) -> policy.',
    ),
  options: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("Handed to the factory; checked by the module's optionsSchema when it exports one."),
  timeout: duration(
    '5s',
    'Deadline of one call of the policy (past it: 503 POLICY_TIMEOUT), and of loading the module.',
  ),
});
const tracingSchema = z
  .strictObject({
    otlp_endpoint: httpUrl
      .default('http://127.0.0.1:4318')
      .describe('OTLP/HTTP collector base URL; spans go to <otlp_endpoint>/v1/traces.'),
    sample_ratio: z
      .number()
      .min(0)
      .max(1)
      .default(1)
      .describe(
        'Share of new traces recorded, in [0, 1]. Parent-based: a sampled incoming traceparent is always kept.',
      ),
    service_name: z.string().min(1).default('gatehouse').describe('service.name of the exported spans.'),
    max_queue_size: positiveInt
      .default(2048)
      .describe('Finished spans held for export; past it new spans are dropped and counted.'),
  })
  .describe('OpenTelemetry spans exported over OTLP/HTTP. Absent: no tracing code is loaded.');

export const configSchema = z
  .strictObject({
    server: serverSchema,
    admin: adminSchema,
    log: logSchema,
    services: z
      .record(
        z.string().regex(/^[A-Za-z0-9_-]+$/, 'service names use letters, digits, - and _'),
        serviceSchema,
      )
      .describe('Upstream services by name.'),
    routes: z.array(routeSchema).default([]).describe('Routes, matched by longest path prefix.'),
    auth: authSchema.optional(),
    rate_limit: rateLimitSchema.optional(),
    cors: corsSchema.optional(),
    api_keys: apiKeysSchema.optional(),
    plugins: z
      .record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'plugin names use letters, digits, - and _'), pluginSchema)
      .optional()
      .describe('Policies written as modules, by name; a route runs one when its policies list names it.'),
    tracing: tracingSchema.optional(),
  })
  // Cross-references run even when other keys have errors, so `validate` reports
  // everything at once; they only need routes and services to have their shape.
  .check(
    z.superRefine(
      (config: CrossCheckedConfig, ctx) => {
        config.routes.forEach((route, index) => {
          if (!(route.service in config.services)) {
            ctx.addIssue({
              code: 'custom',
              path: ['routes', index, 'service'],
              message: `no service named "${route.service}"`,
            });
          }
          if ((route.auth === 'required' || route.auth === 'optional') && !config.auth && !config.api_keys) {
            ctx.addIssue({
              code: 'custom',
              path: ['routes', index, 'auth'],
              message: `auth: ${route.auth} needs an auth or api_keys section`,
            });
          }
          route.split?.forEach((side, sideIndex) => {
            if (typeof side?.service === 'string' && !(side.service in config.services)) {
              ctx.addIssue({
                code: 'custom',
                path: ['routes', index, 'split', sideIndex, 'service'],
                message: `no service named "${side.service}"`,
              });
            }
          });
          checkGrpcRoute(config, route, index, ctx);
          checkIdentityTransforms(config, route, index, ctx);
          if (route.rate_limit && !config.rate_limit) {
            ctx.addIssue({
              code: 'custom',
              path: ['routes', index, 'rate_limit'],
              message: 'a route rate_limit needs a rate_limit section',
            });
          }
          const problems = orderProblems({
            policies: route.policies,
            authMode: route.auth ?? (config.auth || config.api_keys ? 'required' : 'none'),
            roles: route.roles,
            rateLimitKey: route.rate_limit?.key,
            hasCors: config.cors !== undefined,
            hasIpRules: (route.ip_allow?.length ?? 0) + (route.ip_deny?.length ?? 0) > 0,
            hasRateLimit: config.rate_limit !== undefined,
            pluginNames: pluginNamesOf(config.plugins),
          });
          for (const problem of problems) {
            ctx.addIssue({
              code: 'custom',
              path: ['routes', index, ...problem.path],
              message: problem.message,
            });
          }
        });
        for (const name of pluginNamesOf(config.plugins)) {
          if (BUILTIN_NAMES.includes(name)) {
            ctx.addIssue({
              code: 'custom',
              path: ['plugins', name],
              message: `${name} is a built-in policy name; give the plugin another name`,
            });
          }
        }
        checkAmbiguousRoutes(config.routes, ctx);
      },
      { when: (payload) => hasCheckableShape(payload.value) },
    ),
  );

type CheckedRoute = Pick<
  RouteConfig,
  'path' | 'service' | 'auth' | 'rate_limit' | 'host' | 'roles' | 'policies' | 'ip_allow' | 'ip_deny'
> &
  Partial<
    Pick<
      RouteConfig,
      'match' | 'split' | 'request_headers' | 'response_headers' | 'grpc' | 'websocket' | 'redirect'
    >
  >;

/** gRPC needs HTTP/2 to every service the route may send to, and is neither a tunnel nor a redirect. */
function checkGrpcRoute(config: CrossCheckedConfig, route: CheckedRoute, index: number, ctx: Issues): void {
  if (route.grpc !== true) return;
  const names = route.split ? route.split.map((side) => side?.service) : [route.service];
  for (const name of names) {
    const service = typeof name === 'string' ? config.services[name] : undefined;
    if (service !== undefined && (service as { http2?: unknown }).http2 !== true) {
      ctx.addIssue({
        code: 'custom',
        path: ['routes', index, 'grpc'],
        message: `grpc: true needs http2: true on service "${name}"`,
      });
    }
  }
  if (route.websocket === true || route.redirect !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['routes', index, 'grpc'],
      message: 'a grpc route can be neither a websocket nor a redirect route',
    });
  }
}

interface CrossCheckedConfig {
  readonly services: Readonly<Record<string, unknown>>;
  readonly routes: readonly CheckedRoute[];
  readonly auth?: { readonly user_id_header?: unknown; readonly roles_header?: unknown };
  readonly rate_limit?: unknown;
  readonly cors?: unknown;
  readonly plugins?: unknown;
  readonly api_keys?: unknown;
}

function pluginNamesOf(plugins: unknown): string[] {
  return typeof plugins === 'object' && plugins !== null ? Object.keys(plugins) : [];
}

type Issues = { addIssue(issue: { code: 'custom'; path: (string | number)[]; message: string }): void };

/**
 * Routes with the same host and prefix may coexist only when the router can always
 * tell them apart: a different number of conditions (more wins), or conditions no
 * request can meet together. Otherwise the config names both.
 */
function checkAmbiguousRoutes(routes: readonly CheckedRoute[], ctx: Issues): void {
  const groups = new Map<string, number[]>();
  routes.forEach((route, index) => {
    const key = `${String(route.host ?? '*').toLowerCase()} ${route.path.replace(/\/+$/, '') || '/'}`;
    const group = groups.get(key) ?? [];
    const conditions = conditionsOf(route.match);
    for (const earlier of group) {
      const other = conditionsOf(routes[earlier].match);
      if ((conditions?.count ?? 0) !== (other?.count ?? 0) || !mayOverlap(conditions, other)) continue;
      ctx.addIssue({
        code: 'custom',
        path: ['routes', index, 'path'],
        message: `routes.${earlier} and routes.${index} (${route.path}) could both match the same request with the same rank; give one of them a condition the other cannot meet`,
      });
      break;
    }
    group.push(index);
    groups.set(key, group);
  });
}

/** The configured identity header names (auth.user_id_header…) are as untouchable as X-User-*. */
function checkIdentityTransforms(
  config: CrossCheckedConfig,
  route: CheckedRoute,
  index: number,
  ctx: Issues,
): void {
  const names = [config.auth?.user_id_header, config.auth?.roles_header]
    .filter((name): name is string => typeof name === 'string')
    .map((name) => name.toLowerCase());
  if (names.length === 0) return;
  for (const direction of ['request_headers', 'response_headers'] as const) {
    const transform = route[direction] as Partial<HeaderTransformInput> | undefined;
    if (typeof transform !== 'object' || transform === null) continue;
    for (const operation of ['set', 'add'] as const) {
      for (const name of Object.keys(transform[operation] ?? {})) {
        if (names.includes(name.toLowerCase()) && forbiddenHeaderProblem(name) === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['routes', index, direction, operation, name],
            message: `${name} is an identity header: only the auth answer sets it`,
          });
        }
      }
    }
    (Array.isArray(transform.remove) ? transform.remove : []).forEach((name, position) => {
      if (
        typeof name === 'string' &&
        names.includes(name.toLowerCase()) &&
        forbiddenHeaderProblem(name) === undefined
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', index, direction, 'remove', position],
          message: `${name} is an identity header: only the auth answer sets it`,
        });
      }
    });
  }
}

interface HeaderTransformInput {
  readonly set: Record<string, unknown>;
  readonly add: Record<string, unknown>;
  readonly remove: unknown[];
}

function hasCheckableShape(value: unknown): boolean {
  const config = value as Partial<CrossCheckedConfig> | undefined;
  return (
    typeof config?.services === 'object' &&
    config.services !== null &&
    Array.isArray(config.routes) &&
    config.routes.every((route) => typeof route?.service === 'string' && typeof route.path === 'string')
  );
}

/** The validated configuration: durations in ms, sizes in bytes, defaults filled. */
export type Config = z.output<typeof configSchema>;
export type ServiceConfig = z.output<typeof serviceSchema>;
export type RouteConfig = z.output<typeof routeSchema>;
export type AuthConfig = z.output<typeof authSchema>;
export type RateLimitConfig = z.output<typeof rateLimitSchema>;
export type CorsConfig = z.output<typeof corsSchema>;
export type PluginConfig = z.output<typeof pluginSchema>;
export type ApiKeysConfig = z.output<typeof apiKeysSchema>;
export type TracingConfig = z.output<typeof tracingSchema>;
export type CircuitBreakerConfig = z.output<typeof circuitBreakerSchema>;
export type HealthCheckConfig = z.output<typeof healthCheckSchema>;
export type DiscoveryConfig = z.output<typeof discoverySchema>;
export type ServerConfig = z.output<typeof serverSchema>;
export type ServerTlsConfig = z.output<typeof serverTlsSchema>;
export type ClientTlsConfig = z.output<typeof clientTlsSchema>;

/** The JSON Schema of what a user writes (input side: durations are strings). */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
