// One instance of one service. Lives in the registry across config reloads (keyed by
// service|origin), so a reload keeps warm connections and what the gateway has learnt
// about the instance. Each part has its own file and job:
//   connection-pool.ts  the undici pool, replaced when its settings change
//   breaker-slot.ts     the circuit breaker, replaced when its settings change
//   health-verdict.ts   what active health checks concluded
//   passive-backoff.ts  out of rotation after a refused connection (no health checks)
//   retirement.ts       in-flight count; closed when the last request of a retired instance ends
// This class only composes them into the questions selection and the forwarder ask.
import type { Logger } from 'pino';
import type { Pool } from 'undici';
import type { Random } from '../backoff.ts';
import type { Clock } from '../clock.ts';
import type { ServiceConfig } from '../config/schema.ts';
import type { ClientTlsOptions } from '../tls/certificates.ts';
import { BreakerSlot } from './breaker-slot.ts';
import type { BreakerState, CircuitBreaker } from './circuit-breaker.ts';
import { ConnectionPool, poolSettings } from './connection-pool.ts';
import { H2SessionSlot } from './h2-session.ts';
import { type HealthState, HealthVerdict } from './health-verdict.ts';
import { PassiveBackoff } from './passive-backoff.ts';
import { Retirement } from './retirement.ts';

export type { HealthState } from './health-verdict.ts';

export interface InstanceStatus {
  readonly origin: string;
  /** In rotation as far as health goes: active checks pass and no passive backoff runs. */
  readonly healthy: boolean;
  readonly breaker: BreakerState;
  readonly inFlight: number;
  readonly weight: number;
  /** Milliseconds until an open breaker lets trial requests through (half-open); absent otherwise. */
  readonly breakerReopensInMs?: number;
  /** The last active health probe: when (epoch ms) and whether it passed; absent before any. */
  readonly lastProbe?: { readonly at: number; readonly passed: boolean };
}

export interface InstanceOptions {
  readonly service: string;
  /** Base URL of the instance; only its origin and path are kept. */
  readonly url: string;
  readonly weight: number;
  readonly config: ServiceConfig;
  /** services.<name>.tls, read at compile. */
  readonly tls?: ClientTlsOptions;
  /** A new instance of a health-checked service waits for a passing probe. */
  readonly healthChecked: boolean;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: Random;
}

export function instanceKey(service: string, origin: string): string {
  return `${service}|${origin}`;
}

export class UpstreamInstance {
  readonly key: string;
  readonly service: string;
  readonly origin: string;
  /** Path of the configured URL without its trailing slash ('' for none), for the forwarder to prepend. */
  readonly basePath: string;
  weight: number;
  readonly #log: Logger;
  readonly #pool: ConnectionPool;
  /** The HTTP/2 session (services.<name>.http2); opened on first use, so idle when unused. */
  readonly #h2: H2SessionSlot;
  readonly #breaker: BreakerSlot;
  readonly #health: HealthVerdict;
  readonly #backoff: PassiveBackoff;
  readonly #retirement = new Retirement();
  #lastProbe: { at: number; passed: boolean } | undefined = undefined;

  constructor(options: InstanceOptions) {
    const url = new URL(options.url);
    this.service = options.service;
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.key = instanceKey(options.service, this.origin);
    this.weight = options.weight;
    this.#log = options.logger.child({ service: options.service, instance: this.origin });
    this.#pool = new ConnectionPool(this.origin, poolSettings(options.config, options.tls));
    this.#h2 = new H2SessionSlot(this.origin, {
      connectTimeoutMs: options.config.connect_timeout,
      tls: options.tls,
    });
    this.#breaker = new BreakerSlot(options.config.circuit_breaker, options.clock, this.#log);
    this.#health = new HealthVerdict(options.healthChecked, this.#log);
    this.#backoff = new PassiveBackoff(options.clock, options.random, this.#log);
  }

  /** TLS settings towards the instance (probes use the same). */
  get tls(): ClientTlsOptions | undefined {
    return this.#pool.tls;
  }

  /** The keep-alive pool of the data plane. Dispatch on it in the tick that acquired the lease. */
  get pool(): Pool {
    return this.#pool.current;
  }

  /** HTTP/2 to this instance (gRPC routes, grpc health checks). */
  get h2(): H2SessionSlot {
    return this.#h2;
  }

  get breaker(): CircuitBreaker {
    return this.#breaker.current;
  }

  get inFlight(): number {
    return this.#retirement.inFlight;
  }

  get health(): HealthState {
    return this.#health.state;
  }

  get probeFailures(): number {
    return this.#health.probeFailures;
  }

  /** What active checks say (always true without them). */
  get healthy(): boolean {
    return this.#health.healthy;
  }

  /** Healthy and not in passive backoff: what gatehouse_upstream_up reports. */
  get up(): boolean {
    return this.#health.healthy && !this.#backoff.down;
  }

  /** Time left in the passive backoff, 0 when none runs. */
  backoffRemainingMs(): number {
    return this.#backoff.remainingMs();
  }

  /** May a request be sent here now? Called for every candidate of every request. */
  isAvailable(): boolean {
    return this.#health.healthy && !this.#backoff.down && this.#breaker.current.canAdmit();
  }

  /** Counts a request that holds a lease on this instance. */
  begin(): void {
    this.#retirement.begin();
  }

  end(): void {
    this.#retirement.end();
  }

  /** The instance answered (whatever the status): the passive backoff starts over. */
  markReachable(): void {
    this.#backoff.reset();
  }

  /** A connection to the instance failed (refused, connect timeout): out of rotation at once. */
  markUnreachable(): void {
    // Health-checked: only a passing probe brings it back, and that probe starts now.
    if (this.#health.watched) this.#health.connectionFailed();
    else this.#backoff.unreachable();
  }

  /** Result of one active probe; `retries` consecutive failures make a healthy instance unhealthy. */
  recordProbe(passed: boolean, retries: number): void {
    this.#lastProbe = { at: Date.now(), passed };
    this.#health.recordProbe(passed, retries);
  }

  /**
   * Attaches (or with undefined detaches) active health checking. Without it the
   * instance is healthy by definition and only the breaker and passive backoff guard it.
   */
  watchHealth(probeNow: (() => void) | undefined): void {
    this.#health.watch(probeNow);
    // Passive backoff belongs to unchecked instances; probes take over from here.
    if (probeNow) this.#backoff.clear();
  }

  /** Applies a reloaded service config, rebuilding only the pool or breaker whose settings changed. */
  configure(config: ServiceConfig, weight: number, tls?: ClientTlsOptions): void {
    this.weight = weight;
    this.#h2.configure({ connectTimeoutMs: config.connect_timeout, tls });
    if (this.#pool.reconfigure(poolSettings(config, tls)))
      this.#log.info('upstream pool settings changed, new pool');
    if (this.#breaker.reconfigure(config.circuit_breaker))
      this.#log.info('circuit breaker settings changed, breaker reset to closed');
  }

  /** Taken out of the registry: closes the pool once the last in-flight request ends. */
  retire(): Promise<void> {
    // No more probes for it, and its verdict stays what it was while it drains.
    this.#health.detach();
    return this.#retirement.retire(() => this.close());
  }

  /** Closes the pools now; requests already dispatched finish first. */
  close(): Promise<void> {
    return Promise.all([this.#pool.close(), this.#h2.close()]).then(() => {});
  }

  /** Aborts everything in flight. */
  destroy(): Promise<void> {
    return Promise.all([this.#pool.destroy(), this.#h2.destroy()]).then(() => {});
  }

  status(): InstanceStatus {
    const reopensInMs = this.#breaker.current.retryAfterMs();
    return {
      origin: this.origin,
      healthy: this.up,
      breaker: this.#breaker.current.state,
      inFlight: this.#retirement.inFlight,
      weight: this.weight,
      ...(reopensInMs === undefined ? {} : { breakerReopensInMs: reopensInMs }),
      ...(this.#lastProbe === undefined ? {} : { lastProbe: this.#lastProbe }),
    };
  }
}
