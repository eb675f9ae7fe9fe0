// The bench's rows, as data. A row names what runs in front of the upstream, how to
// start it, and any extra request headers. A gateway variant is one `gateway(...)`
// entry: its config overrides and, if it needs them, headers; side services it needs
// (auth service, Redis) come from ctx.fixtures.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Fixtures } from './fixtures.ts';

export interface BenchContext {
  root: string; // repo root: children run from here
  workDir: string; // .bench/: generated configs and logs
  upstreamUrl: string;
  port: number; // free port for this row's process
  adminPort: number; // a second free port (the gateway's admin listener)
  fixtures: Fixtures;
}

export interface Launch {
  args: string[]; // `node <args>`, run with the pinned Node
  env?: Record<string, string>;
  readyUrl: string; // answers 200 once the process serves
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
}

/** Every row requests this path; the gateway's route strips /api, the others pass it on. */
export const PATH = '/api/hello';

function peer(name: string, what: string, file: string, baseline = false): Scenario {
  return {
    name,
    what,
    baseline,
    launch: (ctx) => ({
      args: [join('bench', file)],
      env: { PORT: String(ctx.port), UPSTREAM: ctx.upstreamUrl },
      readyUrl: `http://127.0.0.1:${ctx.port}${PATH}`,
    }),
  };
}

const ROUTE = { path: '/api', service: 'upstream', strip_prefix: true };

interface GatewayVariant {
  /** Top-level config sections replacing the base ones (log, routes, auth, rate_limit...). */
  config?: (ctx: BenchContext) => Record<string, unknown> | Promise<Record<string, unknown>>;
  headers?: Scenario['headers'];
}

/** The gateway (real CLI) with a generated config: one route to the upstream, plus the variant. */
function gateway(name: string, what: string, variant: GatewayVariant = {}): Scenario {
  return {
    name,
    what,
    headers: variant.headers,
    launch: async (ctx) => {
      const config = {
        server: { host: '127.0.0.1', port: ctx.port, shutdown_timeout: '2s' },
        admin: { host: '127.0.0.1', port: ctx.adminPort },
        log: { level: 'info', access_log: false },
        services: { upstream: { url: ctx.upstreamUrl } },
        routes: [ROUTE],
        ...(await variant.config?.(ctx)),
      };
      const file = join(ctx.workDir, `${name.replace(/\W+/g, '-')}.yaml`);
      writeFileSync(file, stringify(config));
      return {
        args: ['src/cli.ts', 'start', '--config', file],
        readyUrl: `http://127.0.0.1:${ctx.port}/ready`,
      };
    },
  };
}

// Limits far above what one machine can send: the limiter does all its bookkeeping but
// never answers 429 (a 429 would count as an error). One client (127.0.0.1), one key.
const UNREACHED_LIMITS = {
  global: 1_000_000,
  global_burst: 1_000_000,
  per_client: 1_000_000,
  per_client_burst: 1_000_000,
};

export const SCENARIOS: Scenario[] = [
  { name: 'upstream (direct)', what: 'no proxy: what the upstream and the loader manage together' },
  peer('bare proxy', 'node:http + undici pool, ~30 lines: the ceiling', 'bare-proxy.ts', true),
  gateway('gateway', 'Gatehouse, plain route: no auth, no rate limit, access log off'),
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
  peer('node-http-proxy', 'http-proxy with a keep-alive agent: the peer', 'node-http-proxy.ts'),
  peer('fastify + undici', 'Fastify catch-all + undici pool: what the framework costs', 'fastify-proxy.ts'),
];
