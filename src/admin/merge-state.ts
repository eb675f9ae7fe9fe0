// With server.workers above 1 each worker thread keeps its own figures; the dashboard
// shows the whole gateway by merging the workers' states here. Pure: states in, state
// out. Counts add up (requests, 5xx, latency buckets, rejections, requests in flight)
// and the percentiles are computed again from the summed buckets, never averaged.
// Health and breakers are each worker's own (each probes and counts failures), so an
// instance is merged to healthy only when every worker says so and to the worst
// breaker state any worker has; each worker's view is kept beside the merge.
import type { RejectionCount } from '../observability/metrics.ts';
import { addCounts, summarize, type WindowSummary } from '../observability/route-window.ts';
import type { BreakerState } from '../upstream/circuit-breaker.ts';
import type { InstanceStatus } from '../upstream/instance.ts';
import type {
  DashboardState,
  GatewayFacts,
  InstanceState,
  RouteState,
  ServiceState,
  WorkerInstanceStatus,
} from './dashboard-state.ts';

/** What the supervisor itself knows: the process's facts, its reload history, its clock. */
export type SupervisorView = Pick<DashboardState, 'gateway' | 'reloads' | 'now'>;

/**
 * The dashboard state of the whole gateway from each worker's (index = worker position;
 * undefined = did not answer in time). Figures of a missing worker are missing from the
 * sums; `gateway.workers_missing` says how many.
 */
export function mergeStates(
  answers: readonly (DashboardState | undefined)[],
  supervisor: SupervisorView,
): DashboardState {
  const present = answers.flatMap((state, worker) => (state ? [{ worker, state }] : []));
  return {
    gateway: mergeGateway(
      supervisor.gateway,
      answers.length,
      present.map(({ state }) => state.gateway),
    ),
    services: mergeServices(present),
    routes: mergeRoutes(present.map(({ state }) => state.routes)),
    unmatched: mergeWindows(present.map(({ state }) => state.unmatched)),
    rejections: mergeRejections(present.map(({ state }) => state.rejections)),
    reloads: supervisor.reloads,
    now: supervisor.now,
  };
}

/**
 * One service's instances as every worker sees them (index = worker position; undefined =
 * did not answer or does not know the service), merged as on the dashboard.
 */
export function mergeInstances(
  perWorker: readonly (readonly InstanceStatus[] | undefined)[],
): InstanceState[] {
  const byOrigin = new Map<string, { first: InstanceStatus; views: WorkerInstanceStatus[] }>();
  perWorker.forEach((instances, worker) => {
    for (const instance of instances ?? []) {
      const { origin, weight, ...view } = instance;
      let entry = byOrigin.get(origin);
      if (entry === undefined) {
        entry = { first: instance, views: [] };
        byOrigin.set(origin, entry);
      }
      entry.views.push({ worker, ...view });
    }
  });
  return [...byOrigin.values()].map(({ first, views }) => mergeInstance(first, views));
}

const BREAKER_RANK: Readonly<Record<BreakerState, number>> = { closed: 0, half_open: 1, open: 2 };

function mergeInstance(first: InstanceStatus, views: readonly WorkerInstanceStatus[]): InstanceState {
  // The worst breaker any worker has: "closed" only when every worker's is.
  const breaker = views.reduce<BreakerState>(
    (worst, view) => (BREAKER_RANK[view.breaker] > BREAKER_RANK[worst] ? view.breaker : worst),
    'closed',
  );
  // Open somewhere: trial requests start everywhere once the last of them goes half-open.
  const reopens = views.flatMap((view) =>
    view.breaker === 'open' && view.breakerReopensInMs !== undefined ? [view.breakerReopensInMs] : [],
  );
  // A failed last probe on any worker is the one shown; else the newest passed one.
  const probes = views.flatMap((view) => (view.lastProbe ? [view.lastProbe] : []));
  const failed = probes.filter((probe) => !probe.passed);
  const lastProbe = (failed.length > 0 ? failed : probes).reduce<InstanceStatus['lastProbe']>(
    (newest, probe) => (newest === undefined || probe.at > newest.at ? probe : newest),
    undefined,
  );
  return {
    origin: first.origin,
    healthy: views.every((view) => view.healthy),
    breaker,
    inFlight: views.reduce((sum, view) => sum + view.inFlight, 0),
    weight: first.weight,
    ...(reopens.length > 0 ? { breakerReopensInMs: Math.max(...reopens) } : {}),
    ...(lastProbe ? { lastProbe } : {}),
    workers: views,
  };
}

function mergeGateway(
  supervisor: GatewayFacts,
  workers: number,
  answered: readonly GatewayFacts[],
): GatewayFacts {
  // RSS is the process's; each thread has its own V8 heap, so heaps add up.
  const heap = (key: 'heap_used' | 'heap_total') =>
    answered.reduce((sum, facts) => sum + facts.memory[key], supervisor.memory[key]);
  return {
    ...supervisor,
    workers,
    workers_missing: workers - answered.length,
    memory: { rss: supervisor.memory.rss, heap_used: heap('heap_used'), heap_total: heap('heap_total') },
  };
}

function mergeServices(present: readonly { worker: number; state: DashboardState }[]): ServiceState[] {
  const names = unionInOrder(present.map(({ state }) => state.services.map((service) => service.name)));
  return names.map((name) => {
    const perWorker: (readonly InstanceStatus[] | undefined)[] = [];
    let first: ServiceState | undefined;
    for (const { worker, state } of present) {
      const service = state.services.find((candidate) => candidate.name === name);
      first ??= service;
      perWorker[worker] = service?.instances;
    }
    return {
      name,
      load_balancing: first?.load_balancing,
      health_checked: first?.health_checked ?? false,
      instances: mergeInstances(perWorker),
    };
  });
}

/**
 * Every worker runs the same config, so their route lists are the same but for the
 * moment of a reload; routes are matched by host, path, service and methods (the n-th
 * of equal ones with the n-th), in the first worker's order, then any only others have.
 */
function mergeRoutes(perWorker: readonly (readonly RouteState[])[]): RouteState[] {
  const merged = new Map<string, { route: RouteState; windows: (WindowSummary | null)[] }>();
  for (const routes of perWorker) {
    const seen = new Map<string, number>();
    for (const route of routes) {
      const base = JSON.stringify([route.host, route.route, route.service, route.methods]);
      const occurrence = seen.get(base) ?? 0;
      seen.set(base, occurrence + 1);
      const key = `${base}#${occurrence}`;
      const entry = merged.get(key);
      if (entry) entry.windows.push(route.last_minute);
      else merged.set(key, { route, windows: [route.last_minute] });
    }
  }
  return [...merged.values()].map(({ route, windows }) => ({
    ...route,
    last_minute: mergeWindows(windows),
  }));
}

/** Summed counts, summarized again: rates add up, ratios and percentiles come from the sums. */
export function mergeWindows(windows: readonly (WindowSummary | null)[]): WindowSummary | null {
  const present = windows.filter((window) => window !== null);
  return present.length === 0 ? null : summarize(addCounts(present));
}

function mergeRejections(perWorker: readonly (readonly RejectionCount[])[]): RejectionCount[] {
  const merged = new Map<string, RejectionCount>();
  for (const rejections of perWorker) {
    for (const rejection of rejections) {
      const key = `${rejection.policy}\u0000${rejection.code}`;
      const sum = merged.get(key);
      merged.set(
        key,
        sum === undefined
          ? { ...rejection }
          : { ...sum, total: sum.total + rejection.total, lastMinute: sum.lastMinute + rejection.lastMinute },
      );
    }
  }
  return [...merged.values()];
}

function unionInOrder(lists: readonly (readonly string[])[]): string[] {
  const out = new Set<string>();
  for (const list of lists) for (const item of list) out.add(item);
  return [...out];
}
