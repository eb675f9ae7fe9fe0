// Prometheus metrics, one registry per gateway (so several gateways can share a
// process in tests). Per-request updates go through cached label children: a label
// lookup in prom-client hashes its labels on every call.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { BREAKER_STATE_VALUE, type BreakerState } from '../upstream/circuit-breaker.ts';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export interface UpstreamStatusSource {
  status(): Record<
    string,
    readonly { origin: string; healthy: boolean; breaker: BreakerState; inFlight: number }[]
  >;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'route' | 'method' | 'status'>;
  readonly #duration: Histogram<'route'>;
  readonly #reloads: Counter<'result'>;
  readonly #storeErrors: Counter<'decision'>;
  readonly #authCalls: Counter<'result'>;
  readonly #tlsReloads: Counter<'result'>;
  readonly #rapidResets: Counter;
  readonly #requestChildren = new Map<string, Counter.Internal>();
  readonly #durationChildren = new Map<string, Histogram.Internal<'route'>>();

  constructor(upstreams: UpstreamStatusSource) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
    this.#requests = new Counter({
      name: 'gatehouse_requests_total',
      help: 'Requests answered, by route, method and status.',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'gatehouse_request_duration_seconds',
      help: 'Time from request to the end of the response, by route.',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
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
    const methodLabel = KNOWN_METHODS.has(method) ? method : 'OTHER';
    const key = `${route}\u0000${methodLabel}\u0000${status}`;
    let counter = this.#requestChildren.get(key);
    if (!counter) {
      counter = this.#requests.labels(route, methodLabel, String(status));
      this.#requestChildren.set(key, counter);
    }
    counter.inc();
    let histogram = this.#durationChildren.get(route);
    if (!histogram) {
      histogram = this.#duration.labels(route);
      this.#durationChildren.set(route, histogram);
    }
    histogram.observe(seconds);
  }

  reloaded(success: boolean): void {
    this.#reloads.inc({ result: success ? 'success' : 'failure' });
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

  authCall(result: string): void {
    this.#authCalls.inc({ result });
  }
}
