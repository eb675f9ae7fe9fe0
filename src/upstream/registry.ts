// Long-lived upstream state, keyed by service|origin so it survives config reloads:
// pools stay warm, breakers and health keep what they learnt. Each sync() with a
// validated config returns fresh ServicePools for the new runtime snapshot; those
// read the registry's live instance lists, so DNS discovery takes effect between
// reloads and old snapshots stop using removed instances at once.
import type { Logger } from 'pino';
import type { Random } from '../backoff.ts';
import { type Clock, systemClock } from '../clock.ts';
import type { ServiceConfig } from '../config/schema.ts';
import type { ClientTlsOptions } from '../tls/certificates.ts';
import { sameClientTls } from '../tls/client-options.ts';
import { DnsDiscovery } from './dns-discovery.ts';
import { HealthChecker } from './health-checker.ts';
import { type InstanceStatus, UpstreamInstance } from './instance.ts';
import { type InstanceSource, ServicePool } from './service-pool.ts';

export interface RegistryDeps {
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly random?: Random;
  /** DNS servers for discovery ('127.0.0.1:5353'); the system's when absent. */
  readonly dnsServers?: readonly string[];
}

/** Per service, its instances: a plain JSON snapshot for the admin endpoint and metrics. */
export type RegistryStatus = Record<string, InstanceStatus[]>;

interface Target {
  readonly url: string;
  readonly weight: number;
}

interface ServiceState extends InstanceSource {
  readonly name: string;
  config: ServiceConfig | undefined;
  /** Replaced, never mutated, so a loop over it in acquire() is never disturbed. */
  instances: readonly UpstreamInstance[];
  checker: HealthChecker | undefined;
  discovery: DnsDiscovery | undefined;
  /** services.<name>.tls material, read at compile. */
  tls?: ClientTlsOptions;
}

export class UpstreamRegistry {
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #dnsServers: readonly string[] | undefined;
  readonly #services = new Map<string, ServiceState>();
  /** Removed instances still finishing their requests. */
  readonly #retiring = new Set<UpstreamInstance>();
  /** Removed services whose retirement waits for the snapshots still routing to them. */
  readonly #removedLater = new Set<ServiceState>();
  #closed = false;

  constructor(deps: RegistryDeps) {
    this.#log = deps.logger;
    this.#clock = deps.clock ?? systemClock;
    this.#random = deps.random ?? Math.random;
    this.#dnsServers = deps.dnsServers;
  }

  /**
   * Applies the services of a (re)loaded config; returns the pools of the new snapshot.
   * A removed service leaves the registry at once; its instances and timers are
   * retired at once too, or, when `deferRemoval` is given, by the callback it is handed
   * (the runtime calls it once the snapshots that still route to the service are done).
   */
  sync(
    services: Readonly<Record<string, ServiceConfig>>,
    deferRemoval?: (retire: () => void) => void,
    /** services.<name>.tls material by service name, read at compile. */
    tls?: ReadonlyMap<string, ClientTlsOptions>,
  ): ReadonlyMap<string, ServicePool> {
    if (this.#closed) throw new Error('the upstream registry is closed');
    for (const [name, state] of this.#services) {
      if (!Object.hasOwn(services, name)) {
        this.#services.delete(name);
        if (!deferRemoval) {
          this.#removeService(state);
          continue;
        }
        this.#removedLater.add(state);
        deferRemoval(() => {
          if (this.#removedLater.delete(state)) this.#removeService(state);
        });
      }
    }
    const pools = new Map<string, ServicePool>();
    for (const [name, config] of Object.entries(services)) {
      let state = this.#services.get(name);
      if (!state) {
        state = { name, config: undefined, instances: [], checker: undefined, discovery: undefined };
        this.#services.set(name, state);
      }
      const previousTls = state.tls;
      state.tls = tls?.get(name);
      this.#configure(state, config, previousTls);
      pools.set(name, new ServicePool(name, config, state));
    }
    return pools;
  }

  /** Every service's instances now (breaker state, health, in-flight, weight). */
  status(): RegistryStatus {
    const status: RegistryStatus = {};
    for (const [name, state] of this.#services)
      status[name] = state.instances.map((instance) => instance.status());
    return status;
  }

  /**
   * Resolves once discovery has had its first answer and every instance its first
   * health probe, so a gateway can wait before it declares itself ready.
   */
  async ready(): Promise<void> {
    const states = [...this.#services.values()];
    await Promise.all(states.map((state) => state.discovery?.ready()));
    await Promise.all(states.map((state) => state.checker?.settled()));
  }

  /** Stops all timers and closes every pool once its in-flight requests have ended. */
  async close(): Promise<void> {
    await Promise.all(this.#shutdown().map((instance) => instance.close()));
  }

  /** Stops all timers and aborts everything in flight. */
  async destroy(): Promise<void> {
    await Promise.all(this.#shutdown().map((instance) => instance.destroy()));
  }

  #shutdown(): UpstreamInstance[] {
    this.#closed = true;
    const instances = [...this.#retiring];
    for (const state of [...this.#services.values(), ...this.#removedLater]) {
      state.checker?.stop();
      state.discovery?.stop();
      instances.push(...state.instances);
    }
    this.#removedLater.clear();
    return instances;
  }

  #configure(state: ServiceState, config: ServiceConfig, previousTls: ClientTlsOptions | undefined): void {
    const previous = state.config;
    state.config = config;
    this.#configureInstances(state, config, previous);
    // After the instances took the new TLS material: the probe clients are built from it.
    const tlsChanged = !sameClientTls(previousTls, state.tls);
    if (tlsChanged || !sameJson(previous?.health_check, config.health_check)) {
      state.checker?.stop();
      state.checker = config.health_check
        ? new HealthChecker({
            service: state.name,
            config: config.health_check,
            logger: this.#log,
            random: this.#random,
          })
        : undefined;
      for (const instance of state.instances) {
        if (state.checker) state.checker.add(instance);
        else instance.watchHealth(undefined);
      }
    }
  }

  /** The instance list and each instance's settings (pool, breaker, TLS), static or discovered. */
  #configureInstances(state: ServiceState, config: ServiceConfig, previous: ServiceConfig | undefined): void {
    if (!config.discovery) {
      state.discovery?.stop();
      state.discovery = undefined;
      this.#setTargets(state, staticTargets(config));
      return;
    }
    for (const instance of state.instances) instance.configure(config, 1, state.tls);
    if (!sameJson(previous?.discovery, config.discovery)) {
      state.discovery?.stop();
      // The current instances serve until the new lookup answers.
      state.discovery = new DnsDiscovery({
        service: state.name,
        config: config.discovery,
        logger: this.#log,
        servers: this.#dnsServers,
        onChange: (urls) =>
          this.#setTargets(
            state,
            urls.map((url) => ({ url, weight: 1 })),
          ),
      });
      state.discovery.start();
    }
  }

  /** Makes the instance list match `targets`: reuses, creates, retires. */
  #setTargets(state: ServiceState, targets: readonly Target[]): void {
    const config = state.config!;
    const current = new Map(state.instances.map((instance) => [instance.origin, instance]));
    const next: UpstreamInstance[] = [];
    for (const target of targets) {
      const url = new URL(target.url);
      const existing = current.get(url.origin);
      if (existing && existing.basePath === url.pathname.replace(/\/+$/, '')) {
        current.delete(url.origin);
        existing.configure(config, target.weight, state.tls);
        next.push(existing);
        continue;
      }
      const instance = new UpstreamInstance({
        service: state.name,
        url: target.url,
        weight: target.weight,
        config,
        tls: state.tls,
        healthChecked: config.health_check !== undefined,
        logger: this.#log,
        clock: this.#clock,
        random: this.#random,
      });
      state.checker?.add(instance);
      next.push(instance);
    }
    state.instances = next;
    for (const instance of current.values()) this.#retire(state, instance);
  }

  #retire(state: ServiceState, instance: UpstreamInstance): void {
    state.checker?.remove(instance);
    this.#retiring.add(instance);
    void instance.retire().finally(() => this.#retiring.delete(instance));
  }

  #removeService(state: ServiceState): void {
    state.checker?.stop();
    state.discovery?.stop();
    const instances = state.instances;
    state.instances = [];
    for (const instance of instances) this.#retire(state, instance);
  }
}

/**
 * The listed instances, one per origin: an origin listed twice is one instance (one
 * pool, one breaker) carrying the sum of the weights, which keeps its share of traffic.
 */
function staticTargets(config: ServiceConfig): Target[] {
  const listed: Target[] = config.instances
    ? config.instances
    : (config.urls ?? (config.url ? [config.url] : [])).map((url) => ({ url, weight: 1 }));
  const byOrigin = new Map<string, Target>();
  for (const target of listed) {
    const origin = new URL(target.url).origin;
    const seen = byOrigin.get(origin);
    byOrigin.set(origin, seen ? { url: seen.url, weight: seen.weight + target.weight } : target);
  }
  return [...byOrigin.values()];
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
