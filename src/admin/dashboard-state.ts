// GET /api/state: everything the dashboard shows, as one JSON document read from the
// live objects (instance status, the per-route minute windows, rejection tallies, the
// reload history). Read-only: building it changes nothing. With server.workers above 1
// each worker builds its own and the supervisor merges them (merge-state.ts).
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Config } from '../config/schema.ts';
import type { GatewayMetrics, RejectionCount } from '../observability/metrics.ts';
import type { WindowSummary } from '../observability/route-window.ts';
import type { Runtime } from '../runtime/build.ts';
import type { ReloadHistory, ReloadRecord } from '../runtime/reload-history.ts';
import type { InstanceStatus } from '../upstream/instance.ts';
import { resolveWorkerCount } from '../workers/count.ts';

const VERSION: string = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
).version;
const STARTED_AT = Date.now();

export type Lifecycle = { readonly ready: boolean; readonly draining: boolean };

export interface GatewayFacts {
  readonly version: string;
  readonly node: string;
  readonly pid: number;
  readonly started_at: number;
  readonly uptime_s: number;
  readonly state: 'starting' | 'ready' | 'draining';
  readonly workers: number;
  /** With workers: how many did not answer in time (their share is missing from the figures). */
  readonly workers_missing?: number;
  readonly cores: number;
  readonly memory: { readonly rss: number; readonly heap_used: number; readonly heap_total: number };
  readonly tracing: { readonly otlp_endpoint: string; readonly sample_ratio: number } | null;
}

/** One worker's view of an instance (health and breakers are kept per worker). */
export type WorkerInstanceStatus = Omit<InstanceStatus, 'origin' | 'weight'> & { readonly worker: number };

export interface InstanceState extends InstanceStatus {
  /** With workers: each answering worker's view; the fields above are their merge. */
  readonly workers?: readonly WorkerInstanceStatus[];
}

export interface ServiceState {
  readonly name: string;
  readonly load_balancing: string | undefined;
  readonly health_checked: boolean;
  readonly instances: readonly InstanceState[];
}

export interface RouteState {
  readonly route: string;
  readonly host: string | undefined;
  readonly service: string;
  readonly methods: readonly string[] | undefined;
  readonly policies: readonly string[];
  readonly last_minute: WindowSummary | null;
}

export interface DashboardState {
  readonly gateway: GatewayFacts;
  readonly services: readonly ServiceState[];
  readonly routes: readonly RouteState[];
  /** Requests that matched no route, over the last minute. */
  readonly unmatched: WindowSummary | null;
  readonly rejections: readonly RejectionCount[];
  /** Newest first. */
  readonly reloads: readonly ReloadRecord[];
  /** Epoch ms when the state was read: what the page's "ago" figures count from. */
  readonly now: number;
}

export interface DashboardSources {
  readonly runtime: () => Runtime;
  readonly metrics: GatewayMetrics;
  readonly upstreams: () => Record<string, readonly InstanceStatus[]>;
  readonly reloads: ReloadHistory;
  readonly lifecycle: Lifecycle;
}

export function dashboardState(sources: DashboardSources): DashboardState {
  const { config } = sources.runtime();
  const windows = sources.metrics.routeSummaries();
  const upstreams = sources.upstreams();
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
    gateway: gatewayFacts(config, sources.lifecycle, resolveWorkerCount(config.server.workers)),
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

/** The process's facts: the same whichever thread reads them, but for the heap (that thread's). */
export function gatewayFacts(config: Config, lifecycle: Lifecycle, workers: number): GatewayFacts {
  const memory = process.memoryUsage();
  return {
    version: VERSION,
    node: process.version,
    pid: process.pid,
    started_at: STARTED_AT,
    uptime_s: Math.round(process.uptime()),
    state: lifecycle.draining ? 'draining' : lifecycle.ready ? 'ready' : 'starting',
    workers,
    cores: availableParallelism(),
    memory: { rss: memory.rss, heap_used: memory.heapUsed, heap_total: memory.heapTotal },
    tracing: config.tracing
      ? { otlp_endpoint: config.tracing.otlp_endpoint, sample_ratio: config.tracing.sample_ratio }
      : null,
  };
}
