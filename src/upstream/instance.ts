// One instance of one service: its connection pool, breaker, in-flight count and
// health. Lives in the registry across config reloads (keyed by service|origin), so
// a reload keeps warm connections and what the gateway has learnt about the instance.
import type { Logger } from 'pino';
import { Pool } from 'undici';
import type { Clock } from '../clock.ts';
import type { ServiceConfig } from '../config/schema.ts';
import { backoffDelay, type Random, UNREACHABLE_BACKOFF } from './backoff.ts';
import {
  type BreakerSettings,
  type BreakerState,
  breakerSettings,
  CircuitBreaker,
} from './circuit-breaker.ts';

/** pending: health-checked but not probed yet, so not trusted with traffic. */
export type HealthState = 'pending' | 'healthy' | 'unhealthy';

export interface InstanceStatus {
  readonly origin: string;
  /** In rotation as far as health goes: active checks pass and no passive backoff runs. */
  readonly healthy: boolean;
  readonly breaker: BreakerState;
  readonly inFlight: number;
  readonly weight: number;
}

export interface InstanceOptions {
  readonly service: string;
  /** Base URL of the instance; only its origin and path are kept. */
  readonly url: string;
  readonly weight: number;
  readonly config: ServiceConfig;
  /** A new instance of a health-checked service waits for a passing probe. */
  readonly healthChecked: boolean;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: Random;
}

interface PoolSettings {
  readonly connectTimeout: number;
  readonly keepAliveTimeout: number;
  readonly connections: number;
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
  readonly #clock: Clock;
  readonly #random: Random;
  #pool: Pool;
  #poolSettings: PoolSettings;
  #breaker: CircuitBreaker;
  #breakerSettings: BreakerSettings;
  /** Pools replaced by a settings change, still finishing their requests. */
  readonly #oldPools = new Set<Pool>();
  #inFlight = 0;
  #health: HealthState;
  #probeFailures = 0;
  /** Set while a health checker watches this instance: asks it for a probe now. */
  #probeNow: (() => void) | undefined;
  /** Passive backoff (no health checks): out of rotation until this time; 0 = not down. */
  #downUntil = 0;
  #unreachableStreak = 0;
  #retired: Promise<void> | undefined;
  #onDrained: (() => void) | undefined;

  constructor(options: InstanceOptions) {
    const url = new URL(options.url);
    this.service = options.service;
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.key = instanceKey(options.service, this.origin);
    this.weight = options.weight;
    this.#clock = options.clock;
    this.#random = options.random;
    this.#log = options.logger.child({ service: options.service, instance: this.origin });
    this.#health = options.healthChecked ? 'pending' : 'healthy';
    this.#poolSettings = poolSettings(options.config);
    this.#pool = this.#createPool();
    this.#breakerSettings = breakerSettings(options.config.circuit_breaker);
    this.#breaker = this.#createBreaker();
  }

  /** The keep-alive pool of the data plane. Dispatch on it in the tick that acquired the lease. */
  get pool(): Pool {
    return this.#pool;
  }

  get breaker(): CircuitBreaker {
    return this.#breaker;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get health(): HealthState {
    return this.#health;
  }

  get probeFailures(): number {
    return this.#probeFailures;
  }

  /** What active checks say (always true without them). */
  get healthy(): boolean {
    return this.#health === 'healthy';
  }

  /** Healthy and not in passive backoff: what gatehouse_upstream_up reports. */
  get up(): boolean {
    return this.#health === 'healthy' && !this.#passivelyDown();
  }

  /** Time left in the passive backoff, 0 when none runs. */
  backoffRemainingMs(): number {
    return this.#passivelyDown() ? this.#downUntil - this.#clock() : 0;
  }

  /** May a request be sent here now? Called for every candidate of every request. */
  isAvailable(): boolean {
    return this.#health === 'healthy' && !this.#passivelyDown() && this.#breaker.canAdmit();
  }

  /** Counts a request that holds a lease on this instance. */
  begin(): void {
    this.#inFlight++;
  }

  end(): void {
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#onDrained) this.#onDrained();
  }

  /** The instance answered (whatever the status): the passive backoff starts over. */
  markReachable(): void {
    this.#unreachableStreak = 0;
  }

  /** A connection to the instance failed (refused, connect timeout): out of rotation at once. */
  markUnreachable(): void {
    if (this.#probeNow) {
      // Health-checked: only a passing probe brings it back, and that probe starts now.
      if (this.#health !== 'healthy') return;
      this.#setHealth('unhealthy', 'connection failed');
      this.#probeNow();
      return;
    }
    const now = this.#clock();
    // Concurrent requests fail together; one outage must count as one step of backoff.
    if (now < this.#downUntil) return;
    this.#unreachableStreak++;
    const delay = Math.round(backoffDelay(this.#unreachableStreak, UNREACHABLE_BACKOFF, this.#random));
    this.#downUntil = now + delay;
    this.#log.warn(
      { retryInMs: delay, streak: this.#unreachableStreak },
      'upstream instance unreachable, out of rotation',
    );
  }

  /** Result of one active probe; `retries` consecutive failures make a healthy instance unhealthy. */
  recordProbe(passed: boolean, retries: number): void {
    if (passed) {
      this.#probeFailures = 0;
      if (this.#health !== 'healthy') this.#setHealth('healthy', 'probe passed');
      return;
    }
    this.#probeFailures++;
    if (this.#health === 'pending') this.#setHealth('unhealthy', 'first probe failed');
    else if (this.#health === 'healthy' && this.#probeFailures >= retries)
      this.#setHealth('unhealthy', `${retries} probes failed`);
  }

  /**
   * Attaches (or with undefined detaches) active health checking. Without it the
   * instance is healthy by definition and only the breaker and passive backoff guard it.
   */
  watchHealth(probeNow: (() => void) | undefined): void {
    this.#probeNow = probeNow;
    if (!probeNow) {
      this.#probeFailures = 0;
      if (this.#health !== 'healthy') this.#setHealth('healthy', 'health checks removed');
    } else {
      // Passive backoff belongs to unchecked instances; probes take over from here.
      this.#downUntil = 0;
      this.#unreachableStreak = 0;
    }
  }

  /** Applies a reloaded service config, rebuilding only the pool or breaker whose settings changed. */
  configure(config: ServiceConfig, weight: number): void {
    this.weight = weight;
    const pool = poolSettings(config);
    if (!samePoolSettings(pool, this.#poolSettings)) {
      const old = this.#pool;
      this.#poolSettings = pool;
      this.#pool = this.#createPool();
      this.#oldPools.add(old);
      // close() lets requests already dispatched on the old pool finish.
      void old
        .close()
        .catch(() => {})
        .finally(() => this.#oldPools.delete(old));
      this.#log.info('upstream pool settings changed, new pool');
    }
    const breaker = breakerSettings(config.circuit_breaker);
    if (!sameBreakerSettings(breaker, this.#breakerSettings)) {
      // Leases hold the breaker they were admitted by, so the old one just fades away.
      this.#breakerSettings = breaker;
      this.#breaker = this.#createBreaker();
      this.#log.info('circuit breaker settings changed, breaker reset to closed');
    }
  }

  /** Taken out of the registry: closes the pool once the last in-flight request ends. */
  retire(): Promise<void> {
    this.#probeNow = undefined;
    this.#retired ??= new Promise<void>((resolve) => {
      this.#onDrained = () => {
        this.#onDrained = undefined;
        void this.close().then(resolve);
      };
      if (this.#inFlight === 0) this.#onDrained();
    });
    return this.#retired;
  }

  /** Closes the pools now; requests already dispatched finish first. */
  async close(): Promise<void> {
    await Promise.all([this.#pool, ...this.#oldPools].map((pool) => pool.close().catch(() => {})));
  }

  /** Aborts everything in flight. */
  async destroy(): Promise<void> {
    await Promise.all([this.#pool, ...this.#oldPools].map((pool) => pool.destroy().catch(() => {})));
  }

  status(): InstanceStatus {
    return {
      origin: this.origin,
      healthy: this.up,
      breaker: this.#breaker.state,
      inFlight: this.#inFlight,
      weight: this.weight,
    };
  }

  #passivelyDown(): boolean {
    if (this.#downUntil === 0) return false;
    if (this.#clock() < this.#downUntil) return true;
    this.#downUntil = 0;
    this.#log.info('upstream instance back in rotation after backoff');
    return false;
  }

  #setHealth(next: HealthState, reason: string): void {
    const previous = this.#health;
    this.#health = next;
    if (next === 'healthy') this.#log.info({ from: previous, reason }, 'upstream instance healthy');
    else this.#log.warn({ from: previous, reason }, 'upstream instance unhealthy');
  }

  #createPool(): Pool {
    const { connectTimeout, keepAliveTimeout, connections } = this.#poolSettings;
    return new Pool(this.origin, {
      connections,
      pipelining: 1,
      connectTimeout,
      keepAliveTimeout,
      // A server's Keep-Alive hint may shorten our idle time but never lengthen it.
      keepAliveMaxTimeout: keepAliveTimeout,
    });
  }

  #createBreaker(): CircuitBreaker {
    return new CircuitBreaker(this.#breakerSettings, this.#clock, (from, to) => {
      const fields = { from, to };
      if (to === 'open') this.#log.warn(fields, 'circuit breaker opened');
      else this.#log.info(fields, `circuit breaker ${to === 'closed' ? 'closed' : 'half-open'}`);
    });
  }
}

function poolSettings(config: ServiceConfig): PoolSettings {
  return {
    connectTimeout: config.connect_timeout,
    keepAliveTimeout: config.keep_alive_timeout,
    connections: config.max_connections,
  };
}

function samePoolSettings(a: PoolSettings, b: PoolSettings): boolean {
  return (
    a.connectTimeout === b.connectTimeout &&
    a.keepAliveTimeout === b.keepAliveTimeout &&
    a.connections === b.connections
  );
}

function sameBreakerSettings(a: BreakerSettings, b: BreakerSettings): boolean {
  return (
    a.maxRequests === b.maxRequests &&
    a.intervalMs === b.intervalMs &&
    a.timeoutMs === b.timeoutMs &&
    a.failureRatio === b.failureRatio &&
    a.minRequests === b.minRequests
  );
}
