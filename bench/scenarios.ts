// The bench's rows, as data. A row names what runs in front of the upstream, how to
// start it, and any extra request headers. A gateway variant is one `gateway(...)`
// entry: its config overrides and, if it needs them, headers; side services it needs
// (auth service, Redis) come from ctx.fixtures.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { makeLocalhostCertificate } from '../demo/tls.ts';
import { hostJemalloc } from '../test/helpers/jemalloc.ts';
import type { Child } from './children.ts';
import type { Fixtures } from './fixtures.ts';
import { GRPC_PATH } from './grpc-request.ts';
import { caddy, haproxy, nginx } from './native-proxies.ts';
import { freePort } from './net.ts';
import type { Placement } from './pin.ts';

export interface BenchContext {
  root: string; // repo root: children run from here
  workDir: string; // .bench/: generated configs and logs
  upstreamUrl: string;
  port: number; // free port for this row's process
  adminPort: number; // a second free port (the gateway's admin listener)
  fixtures: Fixtures;
}

export interface Launch {
  /** The program; absent: the pinned Node that runs the bench. */
  command?: string;
  args: string[];
  env?: Record<string, string>;
  readyUrl: string; // answers 200 once the process serves
  /** The URL to load when it is not http://127.0.0.1:<port> (an HTTPS listener). */
  url?: string;
}

type Headers = Record<string, string>;

export interface Scenario {
  name: string;
  what: string;
  /** Absent: the row loads the upstream itself. */
  launch?: (ctx: BenchContext) => Launch | Promise<Launch>;
  headers?: (ctx: BenchContext) => Headers | Promise<Headers>;
  /** The row every other row's req/s is compared to. */
  baseline?: boolean;
  /** A program the row needs; when it is not installed the row is skipped with a note. */
  requires?: string;
  /** Also measured in the fixed-rate latency mode (p50/p99/p99.9 and RSS at set rates). */
  fixedRate?: boolean;
  /** Cores the process under test may use (see pin.ts): one of its own by default. */
  placement?: Placement;
  /** h2: loaded by bench/h2-load.ts; grpc: by bench/grpc-load.ts (wrk and autocannon speak HTTP/1.1 only). */
  protocol?: 'h2' | 'grpc';
  /** A row without launch loading a side service instead of the HTTP upstream: its URL and process. */
  direct?: (ctx: BenchContext) => Promise<{ url: string; child: Child }>;
}

/** Every row requests this path; the gateway's route strips /api, the others pass it on. */
export const PATH = '/api/hello';

function peer(
  name: string,
  what: string,
  file: string,
  baseline = false,
  env: Record<string, string> = {},
): Scenario {
  return {
    name,
    what,
    baseline,
    launch: (ctx) => ({
      args: [join('bench', file)],
      env: { ...env, PORT: String(ctx.port), UPSTREAM: ctx.upstreamUrl },
      readyUrl: `http://127.0.0.1:${ctx.port}${PATH}`,
    }),
  };
}

/**
 * The memory settings the image runs the gateway with (Dockerfile: ENTRYPOINT and ENV),
 * chosen by measurement (docs/PERFORMANCE.md, "Targets and final figures"): a young generation capped at
 * 4 MB per semi-space, and jemalloc as the allocator with per-thread caches for
 * allocations up to 4 KB only (preloaded when this machine has it:
 * apt-get install libjemalloc2; without it the rows run on glibc's malloc and the run
 * says so).
 */
const PRODUCTION_NODE_FLAGS = '--max-semi-space-size=4';
export const JEMALLOC = hostJemalloc();
const PRODUCTION_ENV: Record<string, string> = JEMALLOC
  ? { LD_PRELOAD: JEMALLOC, MALLOC_CONF: 'tcache_max:4096' }
  : {};

/** The gateway rows' environment: the image's, or BENCH_NODE_ENV ("NAME=value NAME=value") to compare others. */
const GATEWAY_ENV: Record<string, string> =
  process.env.BENCH_NODE_ENV === undefined
    ? PRODUCTION_ENV
    : Object.fromEntries(
        process.env.BENCH_NODE_ENV.split(' ')
          .filter(Boolean)
          .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
      );

/**
 * Node flags for the gateway rows only: BENCH_NODE_FLAGS (e.g. V8 heap settings to
 * compare; default the image's), and with BENCH_PROFILE=1 a CPU profile per row in .bench/profiles/ (written
 * when the gateway exits; read it with `node bench/profile-top.ts <file>`).
 */
const GATEWAY_NODE_FLAGS = [
  ...(process.env.BENCH_NODE_FLAGS ?? PRODUCTION_NODE_FLAGS).split(' ').filter(Boolean),
  ...(process.env.BENCH_PROFILE === '1' ? ['--cpu-prof', '--cpu-prof-dir=.bench/profiles'] : []),
];

const ROUTE = { path: '/api', service: 'upstream', strip_prefix: true };

interface GatewayVariant {
  /** Top-level config sections replacing the base ones (log, routes, auth, rate_limit...). */
  config?: (ctx: BenchContext) => Record<string, unknown> | Promise<Record<string, unknown>>;
  headers?: Scenario['headers'];
  fixedRate?: boolean;
  placement?: Placement;
  /** Serve the route over TLS on a port of its own (plain HTTP stays for /ready). */
  tls?: boolean;
  protocol?: 'h2' | 'grpc';
  /** The URL to load on the gateway's plain port, when it is not PATH. */
  path?: string;
  /** Run the TypeScript sources through Node's type stripping instead of the build in dist/. */
  sources?: boolean;
  /** The environment instead of the image's (PRODUCTION_ENV or BENCH_NODE_ENV). */
  env?: Record<string, string>;
  /** Run another checkout's CLI (its src/cli.ts) instead of this one's: BENCH_BASELINE. */
  baseline?: string;
}

/** The gateway (real CLI) with a generated config: one route to the upstream, plus the variant. */
function gateway(name: string, what: string, variant: GatewayVariant = {}): Scenario {
  return {
    name,
    what,
    headers: variant.headers,
    fixedRate: variant.fixedRate,
    placement: variant.placement,
    protocol: variant.protocol,
    launch: async (ctx) => {
      const tlsPort = variant.tls ? await freePort() : undefined;
      const tls = tlsPort === undefined ? undefined : benchCertificate(ctx, tlsPort);
      const config = {
        server: { host: '127.0.0.1', port: ctx.port, shutdown_timeout: '2s', ...(tls && { tls }) },
        admin: { host: '127.0.0.1', port: ctx.adminPort },
        log: { level: 'info', access_log: false },
        services: { upstream: { url: ctx.upstreamUrl } },
        routes: [ROUTE],
        ...(await variant.config?.(ctx)),
      };
      const file = join(ctx.workDir, `${name.replace(/\W+/g, '-')}.yaml`);
      writeFileSync(file, stringify(config));
      return {
        env: variant.env ?? GATEWAY_ENV,
        args: [
          ...GATEWAY_NODE_FLAGS,
          variant.baseline
            ? join(variant.baseline, 'src/cli.ts')
            : variant.sources
              ? 'src/cli.ts'
              : 'dist/cli.js',
          'start',
          '--config',
          file,
        ],
        readyUrl: `http://127.0.0.1:${ctx.port}/ready`,
        url:
          tlsPort === undefined
            ? variant.path && `http://127.0.0.1:${ctx.port}${variant.path}`
            : `https://127.0.0.1:${tlsPort}${PATH}`,
      };
    },
  };
}

/** A localhost certificate made with openssl (as the demo's), and the tls section serving it on `port`. */
function benchCertificate(ctx: BenchContext, port: number): Record<string, unknown> {
  const { certFile, keyFile } = makeLocalhostCertificate(join(ctx.workDir, 'tls'));
  return { port, certificates: [{ cert_file: certFile, key_file: keyFile }] };
}

// Limits far above what one machine can send: the limiter does all its bookkeeping but
// never answers 429 (a 429 would count as an error). One client (127.0.0.1), one key.
const UNREACHED_LIMITS = {
  global: 1_000_000,
  global_burst: 1_000_000,
  per_client: 1_000_000,
  per_client_burst: 1_000_000,
};

const ORIGIN = 'https://app.example';

/**
 * Everything a production route runs: cached remote auth, memory rate limits (global and
 * per client), CORS on a cross-origin request, the access log (to a file), metrics, the
 * breaker and active health checks on the instance.
 */
async function wholeChain(ctx: BenchContext): Promise<Record<string, unknown>> {
  return {
    log: { level: 'info', access_log: true },
    services: {
      upstream: {
        url: ctx.upstreamUrl,
        health_check: { path: '/health', interval: '2s', timeout: '1s' },
        circuit_breaker: { interval: '10s', timeout: '5s' },
      },
    },
    auth: { mode: 'remote', verify_url: `${(await ctx.fixtures.auth()).url}/auth/verify`, cache_ttl: '5m' },
    rate_limit: { ...UNREACHED_LIMITS, store: 'memory' },
    cors: { allowed_origins: [ORIGIN] },
    routes: [{ ...ROUTE, auth: 'required' }],
  };
}

const wholeChainHeaders = async (ctx: BenchContext): Promise<Headers> => ({
  authorization: `Bearer ${(await ctx.fixtures.auth()).token}`,
  origin: ORIGIN,
});

function native(name: string, what: string, binary: string, launch: Scenario['launch']): Scenario {
  return { name, what, requires: binary, launch };
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'upstream (direct)',
    what: 'no proxy: what the upstream and the loader manage together',
    fixedRate: true,
  },
  {
    ...peer('bare proxy', 'node:http + undici pool, ~30 lines: the ceiling', 'bare-proxy.ts', true),
    fixedRate: true,
  },
  {
    ...peer(
      'bare proxy, whole-chain headers',
      "the bare proxy sending the whole chain's extra headers both ways (ids, X-Forwarded-*, identity, CORS, RateLimit), with no work behind them",
      'bare-proxy.ts',
      false,
      { WIRE: 'whole-chain' },
    ),
    headers: wholeChainHeaders,
  },
  gateway('gateway', 'Gatehouse, plain route: no auth, no rate limit, access log off'),
  gateway(
    'gateway + no-op plugin',
    'the plain route with one plugin that does nothing (bench/noop-plugin.ts)',
    {
      config: (ctx) => ({
        plugins: { noop: { module: join(ctx.root, 'bench', 'noop-plugin.ts') } },
        routes: [{ ...ROUTE, policies: ['noop'] }],
      }),
    },
  ),
  gateway(
    'gateway + rewrite + 2 header transforms',
    'plain route with a regex rewrite (instead of strip_prefix), a request header set from the route placeholder and a response header set',
    {
      config: () => ({
        routes: [
          {
            path: '/api',
            service: 'upstream',
            rewrite: { regex: '^/api/(.*)$', replacement: '/$1' },
            // biome-ignore lint/suspicious/noTemplateCurlyInString: the gateway's own placeholder syntax
            request_headers: { set: { 'X-Gateway-Route': '${route}' } },
            response_headers: { set: { 'Cache-Control': 'no-store' } },
          },
        ],
      }),
    },
  ),
  gateway('gateway https', 'plain route over HTTPS/1.1 (TLS on the gateway, ECDSA P-256, keep-alive)', {
    tls: true,
  }),
  gateway(
    'gateway h2',
    'plain route over HTTP/2 with TLS; loaded by bench/h2-load.ts (node:http2, 10 streams per connection)',
    { tls: true, protocol: 'h2' },
  ),
  // gRPC, two rows in one run (BENCH_ONLY=grpc): the same unary call straight to a
  // node:http2 gRPC server, then through the gateway on a grpc route (h2c both hops).
  {
    name: 'grpc (direct)',
    what: 'no proxy: unary gRPC calls (h2c) straight to bench/grpc-upstream.ts; bench/grpc-load.ts, 10 streams per connection',
    protocol: 'grpc',
    direct: async (ctx) => {
      const { url, child } = await ctx.fixtures.grpcUpstream();
      return { url: `${url}${GRPC_PATH}`, child };
    },
  },
  gateway(
    'gateway grpc',
    'the same unary gRPC calls through a grpc: true route, h2c to the gateway and to the instance (services.http2)',
    {
      protocol: 'grpc',
      path: GRPC_PATH,
      config: async (ctx) => ({
        services: { greeter: { url: (await ctx.fixtures.grpcUpstream()).url, http2: true } },
        routes: [{ path: '/bench.Greeter', service: 'greeter', grpc: true }],
      }),
    },
  ),
  gateway('gateway + access log', 'plain route with the JSON access log on (to a file)', {
    config: () => ({ log: { level: 'info', access_log: true } }),
  }),
  gateway('gateway + cached auth', 'auth: required, remote mode; one token, verified once then cached', {
    config: async (ctx) => ({
      auth: { mode: 'remote', verify_url: `${(await ctx.fixtures.auth()).url}/auth/verify`, cache_ttl: '5m' },
      routes: [{ ...ROUTE, auth: 'required' }],
    }),
    headers: async (ctx) => ({ authorization: `Bearer ${(await ctx.fixtures.auth()).token}` }),
  }),
  gateway('gateway + memory rate limit', 'global + per-client buckets in memory, never exhausted', {
    config: () => ({ rate_limit: { ...UNREACHED_LIMITS, store: 'memory' } }),
  }),
  gateway(
    'gateway + Redis rate limit',
    'the same buckets in a local redis-server (one EVALSHA per request)',
    {
      config: async (ctx) => ({
        rate_limit: { ...UNREACHED_LIMITS, store: 'redis', redis_url: await ctx.fixtures.redis() },
      }),
    },
  ),
  gateway(
    'gateway, whole chain',
    'cached remote auth + memory rate limits + CORS (Origin sent) + access log to a file + metrics + breaker + health checks',
    { config: wholeChain, headers: wholeChainHeaders, fixedRate: true },
  ),
  gateway(
    'gateway, whole chain, glibc malloc',
    "the whole chain on glibc's malloc (the process's default) instead of the image's jemalloc",
    { config: wholeChain, headers: wholeChainHeaders, fixedRate: true, env: {} },
  ),
  gateway(
    'gateway, whole chain, sources',
    'the whole chain run from src/ through type stripping (npm start) instead of the build in dist/ (the image)',
    { config: wholeChain, headers: wholeChainHeaders, sources: true },
  ),
  // BENCH_BASELINE=<another checkout, with its npm ci done>: the plain route and the
  // whole chain as that checkout's sources run them, interleaved with this run's rows,
  // so a change is judged against the code before it in the same run, not against
  // figures from another day.
  ...(process.env.BENCH_BASELINE
    ? [
        gateway('baseline: gateway', 'the plain route, run by the BENCH_BASELINE checkout', {
          baseline: process.env.BENCH_BASELINE,
        }),
        gateway('baseline: whole chain', 'the whole chain, run by the BENCH_BASELINE checkout', {
          config: wholeChain,
          headers: wholeChainHeaders,
          baseline: process.env.BENCH_BASELINE,
        }),
      ]
    : []),
  // Tracing's cost, three rows in one run (BENCH_ONLY=tracing): the plain route without
  // tracing, then every request traced (a server span, one per attempt) and one in a
  // hundred, exported to a local OTLP/HTTP sink.
  gateway('gateway, tracing off', 'the plain route, no tracing section: the baseline of the tracing rows'),
  ...[1, 0.01].map((ratio) =>
    gateway(
      `gateway + tracing ${ratio}`,
      `the plain route with tracing.sample_ratio ${ratio}: OTLP/HTTP export to a local sink, batched`,
      {
        config: async (ctx) => ({
          tracing: { otlp_endpoint: await ctx.fixtures.otlpSink(), sample_ratio: ratio },
        }),
      },
    ),
  ),
  // The same chain on every core: both rows may use all cores (no pinning), so they
  // compare like with like; on this machine the loader and the upstream share them.
  ...[1, 2].map((workers) =>
    gateway(
      `gateway, whole chain, workers: ${workers}`,
      `the whole chain, server.workers: ${workers}, unpinned (shares the cores with the loader)`,
      {
        config: async (ctx) => ({
          ...(await wholeChain(ctx)),
          server: { host: '127.0.0.1', port: ctx.port, shutdown_timeout: '2s', workers },
        }),
        headers: wholeChainHeaders,
        placement: 'all',
      },
    ),
  ),
  native('caddy', 'Caddy reverse_proxy, GOMAXPROCS=1, no access log', 'caddy', caddy),
  native('nginx', 'nginx proxy_pass, one worker, upstream keep-alive, no access log', 'nginx', nginx),
  native('haproxy', 'HAProxy, one thread, http-reuse always, no log', 'haproxy', haproxy),
  peer('node-http-proxy', 'http-proxy with a keep-alive agent: the peer', 'node-http-proxy.ts'),
  peer('fastify + undici', 'Fastify catch-all + undici pool: what the framework costs', 'fastify-proxy.ts'),
];
