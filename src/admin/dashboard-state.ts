// GET /api/state: everything the dashboard shows, as one JSON document read from the
// live objects (instance status, the per-route minute windows, rejection tallies, the
// reload history). Read-only: building it changes nothing.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { GatewayMetrics } from '../observability/metrics.ts';
import type { Runtime } from '../runtime/build.ts';
import type { ReloadHistory } from '../runtime/reload-history.ts';
import type { InstanceStatus } from '../upstream/instance.ts';
import { resolveWorkerCount } from '../workers/count.ts';

const VERSION: string = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
).version;
const STARTED_AT = Date.now();

export interface DashboardSources {
  readonly runtime: () => Runtime;
  readonly metrics: GatewayMetrics;
  readonly upstreams: () => Record<string, readonly InstanceStatus[]>;
  readonly reloads: ReloadHistory;
  readonly lifecycle: { readonly ready: boolean; readonly draining: boolean };
}

export function dashboardState(sources: DashboardSources): Record<string, unknown> {
  const { config } = sources.runtime();
  const windows = sources.metrics.routeSummaries();
  const upstreams = sources.upstreams();
  const memory = process.memoryUsage();
  const routes = sources
    .runtime()
    .router.explain('', '/')
    .routes.map(({ value, host }) => ({
      route: value.name,
      host,
      service: value.serviceName,
      methods: value.methods ? [...value.methods] : undefined,
      policies: value.chain?.steps.map((step) => step.name) ?? [],
      last_minute: windows[value.name] ?? null,
    }));
  return {
    gateway: {
      version: VERSION,
      node: process.version,
      pid: process.pid,
      started_at: STARTED_AT,
      uptime_s: Math.round(process.uptime()),
      state: sources.lifecycle.draining ? 'draining' : sources.lifecycle.ready ? 'ready' : 'starting',
      workers: resolveWorkerCount(config.server.workers),
      cores: availableParallelism(),
      memory: { rss: memory.rss, heap_used: memory.heapUsed, heap_total: memory.heapTotal },
      tracing: config.tracing
        ? { otlp_endpoint: config.tracing.otlp_endpoint, sample_ratio: config.tracing.sample_ratio }
        : null,
    },
    services: Object.entries(upstreams).map(([name, instances]) => ({
      name,
      load_balancing: config.services[name]?.load_balancing,
      health_checked: config.services[name]?.health_check !== undefined,
      instances,
    })),
    routes,
    unmatched: windows[''] ?? null,
    rejections: sources.metrics.rejections(),
    reloads: sources.reloads.list(),
    now: Date.now(),
  };
}
