// Prometheus metrics, one registry per gateway (so several gateways can share a
// process in tests). The metrics every request updates live in request-counts.ts;
// policy rejections go through cached label children: a label lookup in prom-client
// hashes its labels on every call.
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { BREAKER_STATE_VALUE, type BreakerState } from '../upstream/circuit-breaker.ts';
import { RequestCounts, type RouteRequestCounts } from './request-counts.ts';
import { RouteWindow, type WindowSummary } from './route-window.ts';

/** One route's per-request metrics: its counts and durations, and its last minute. */
interface RouteChildren {
  readonly requests: RouteRequestCounts;
  /** The last minute of this route, for the dashboard. */
  readonly window: RouteWindow;
}

/** Requests a policy answered itself, by policy and code: since start and in the last minute. */
export interface RejectionCount {
  readonly policy: string;
  readonly code: string;
  readonly total: number;
  readonly lastMinute: number;
}

export interface UpstreamStatusSource {
  status(): Record<
    string,
    readonly { origin: string; healthy: boolean; breaker: BreakerState; inFlight: number }[]
  >;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #requests: RequestCounts;
  readonly #reloads: Counter<'result'>;
  readonly #storeErrors: Counter<'decision'>;
  readonly #authCalls: Counter<'result'>;
  readonly #retries: Counter<'route' | 'result'>;
  readonly #splits: Counter<'route' | 'service' | 'status'>;
  readonly #grpcResponses: Counter<'route' | 'grpc_status'>;
  readonly #spans: Counter<'outcome'>;
  readonly #routes = new Map<string, RouteChildren>();
  readonly #policyRejections: Counter<'route' | 'policy' | 'code'>;
  readonly #rejectionChildren = new Map<string, Counter.Internal>();
  readonly #rejectionTallies = new Map<
    string,
    { policy: string; code: string; total: number; window: RouteWindow }
  >();
  readonly #tlsReloads: Counter<'result'>;
  readonly #rapidResets: Counter;

  /**
   * `processMetrics: false` leaves out the process and runtime metrics (CPU, memory,
   * event loop): a worker thread's gateway does, since the supervisor reports them once
   * for the whole process rather than once per worker.
   */
  constructor(upstreams: UpstreamStatusSource, options: { readonly processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.processMetrics !== false)
      collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
    // Registered here, before the others, to keep the order /metrics lists them in.
    this.#requests = new RequestCounts(this.registry);
    this.#reloads = new Counter({
      name: 'gatehouse_config_reloads_total',
      help: 'Configuration reloads, by result (success or failure).',
      labelNames: ['result'],
      registers,
    });
    this.#storeErrors = new Counter({
      name: 'gatehouse_ratelimit_store_errors_total',
      help: 'Rate-limit decisions taken by on_store_error because Redis failed, by decision.',
      labelNames: ['decision'],
      registers,
    });
    this.#authCalls = new Counter({
      name: 'gatehouse_auth_verify_calls_total',
      help: 'Calls to the auth service, by result.',
      labelNames: ['result'],
      registers,
    });
    this.#tlsReloads = new Counter({
      name: 'gatehouse_tls_reloads_total',
      help: 'Reloads of the listener certificates (file change or config reload), by result (success or failure).',
      labelNames: ['result'],
      registers,
    });
    this.#rapidResets = new Counter({
      name: 'gatehouse_http2_rapid_reset_total',
      help: 'HTTP/2 connections sent GOAWAY for cancelling too many streams (rapid reset).',
      registers,
    });
    this.#retries = new Counter({
      name: 'gatehouse_retries_total',
      help: 'Retries by route and result: retried (each extra attempt, the failover after a connection failure included) or budget_exhausted (a retry the route budget refused).',
      labelNames: ['route', 'result'],
      registers,
    });
    this.#splits = new Counter({
      name: 'gatehouse_split_requests_total',
      help: 'Requests of split routes, by route, the service the split chose, and status.',
      labelNames: ['route', 'service', 'status'],
      registers,
    });
    this.#grpcResponses = new Counter({
      name: 'gatehouse_grpc_responses_total',
      help: 'gRPC calls on grpc routes by route and the grpc-status the client got (the upstream\'s or the gateway\'s own); "none" when the call ended without one.',
      labelNames: ['route', 'grpc_status'],
      registers,
    });
    this.#spans = new Counter({
      name: 'gatehouse_tracing_spans_total',
      help: 'Spans handed to the OTLP exporter, by outcome: exported, failed, dropped (export queue full).',
      labelNames: ['outcome'],
      registers,
    });
    this.#policyRejections = new Counter({
      name: 'gatehouse_policy_rejections_total',
      help: 'Requests a policy answered itself, by route, policy and error code (or status of its own reply).',
      labelNames: ['route', 'policy', 'code'],
      registers,
    });
    const perInstance = (
      name: string,
      help: string,
      value: (i: { healthy: boolean; breaker: BreakerState; inFlight: number }) => number,
    ) =>
      new Gauge({
        name,
        help,
        labelNames: ['service', 'instance'],
        registers,
        collect() {
          this.reset();
          for (const [service, instances] of Object.entries(upstreams.status())) {
            for (const instance of instances)
              this.set({ service, instance: instance.origin }, value(instance));
          }
        },
      });
    perInstance('gatehouse_upstream_up', 'Whether the instance is in rotation (1) or not (0).', (i) =>
      i.healthy ? 1 : 0,
    );
    perInstance(
      'gatehouse_breaker_state',
      'Circuit breaker state: 0 closed, 1 half-open, 2 open.',
      (i) => BREAKER_STATE_VALUE[i.breaker],
    );
    perInstance('gatehouse_upstream_in_flight', 'Requests in flight to the instance.', (i) => i.inFlight);
  }

  observeRequest(route: string, method: string, status: number, seconds: number): void {
    let children = this.#routes.get(route);
    if (children === undefined) {
      children = { requests: this.#requests.route(route), window: new RouteWindow() };
      this.#routes.set(route, children);
    }
    children.requests.observe(method, status, seconds);
    children.window.record(status, seconds * 1000);
  }

  /** Each route's last minute (rate, error ratio, p50, p99), keyed by route name ('' = no route). */
  routeSummaries(): Record<string, WindowSummary> {
    const out: Record<string, WindowSummary> = {};
    for (const [route, children] of this.#routes) out[route] = children.window.summary();
    return out;
  }

  rejections(): RejectionCount[] {
    return [...this.#rejectionTallies.values()].map(({ policy, code, total, window }) => ({
      policy,
      code,
      total,
      lastMinute: window.counts().requests,
    }));
  }

  /** Retries made for one request, and whether the budget refused one more. */
  observeRetries(route: string, retried: number, refused: boolean): void {
    if (retried > 0) this.#retries.inc({ route, result: 'retried' }, retried);
    if (refused) this.#retries.inc({ route, result: 'budget_exhausted' });
  }

  observeGrpc(route: string, grpcStatus: number | undefined): void {
    this.#grpcResponses.inc({ route, grpc_status: grpcStatus === undefined ? 'none' : String(grpcStatus) });
  }

  observeSplit(route: string, service: string, status: number): void {
    this.#splits.inc({ route, service, status: String(status) });
  }

  reloaded(success: boolean): void {
    this.#reloads.inc({ result: success ? 'success' : 'failure' });
  }

  /**
   * Reports replaced config snapshots still pinned by requests in flight: what their
   * reloads replaced stays open until this falls back to 0.
   */
  watchSnapshots(retiring: () => number): void {
    new Gauge({
      name: 'gatehouse_config_snapshots_retiring',
      help: 'Replaced configuration snapshots still pinned by requests in flight.',
      registers: [this.registry],
      collect() {
        this.set(retiring());
      },
    });
  }

  storeError(decision: 'allow' | 'deny'): void {
    this.#storeErrors.inc({ decision });
  }

  tlsReloaded(success: boolean): void {
    this.#tlsReloads.inc({ result: success ? 'success' : 'failure' });
  }

  http2RapidReset(): void {
    this.#rapidResets.inc();
  }

  spans(outcome: 'exported' | 'failed' | 'dropped', count: number): void {
    this.#spans.inc({ outcome }, count);
  }

  policyRejected(route: string, policy: string, code: string): void {
    const key = `${route}\u0000${policy}\u0000${code}`;
    let counter = this.#rejectionChildren.get(key);
    if (!counter) {
      counter = this.#policyRejections.labels(route, policy, code);
      this.#rejectionChildren.set(key, counter);
    }
    counter.inc();
    const tallyKey = `${policy}\u0000${code}`;
    let tally = this.#rejectionTallies.get(tallyKey);
    if (tally === undefined) {
      tally = { policy, code, total: 0, window: new RouteWindow() };
      this.#rejectionTallies.set(tallyKey, tally);
    }
    tally.total++;
    tally.window.record(0, 0);
  }

  authCall(result: string): void {
    this.#authCalls.inc({ result });
  }
}
