// Active health checks of one service's instances: GET health_check.path on each,
// first at once, then every interval while passing, and with capped exponential
// backoff while failing (see probe-schedule.ts). The verdict (retries, transitions, logs)
// lives on the instance so it survives a reload that rebuilds this checker.
//
// Probes go through a one-connection undici Client per instance, not the data-plane
// pool: a pool saturated by traffic would queue probes behind requests and mark a
// busy but working instance unhealthy.
import type { Logger } from 'pino';
import type { Random } from '../backoff.ts';
import type { HealthCheckConfig } from '../config/schema.ts';
import { probeGrpcHealth } from './grpc-health-probe.ts';
import type { UpstreamInstance } from './instance.ts';
import { httpConnector } from './interim-continue.ts';
import { nextProbeDelay, type ProbeSchedule } from './probe-schedule.ts';
import { Client } from './undici-parts.ts';

export interface HealthCheckerOptions {
  readonly service: string;
  readonly config: HealthCheckConfig;
  readonly logger: Logger;
  readonly random?: Random;
}

interface Target {
  readonly instance: UpstreamInstance;
  readonly client: Client;
  timer: NodeJS.Timeout | undefined;
  /** The probe under way, if any (aborted on removal). */
  probe: AbortController | undefined;
  /** Resolved once the first probe has a verdict (or the target is dropped). */
  readonly firstVerdict: Promise<void>;
  settle: () => void;
}

export class HealthChecker {
  readonly config: HealthCheckConfig;
  readonly #log: Logger;
  readonly #random: Random;
  readonly #schedule: ProbeSchedule;
  readonly #targets = new Map<UpstreamInstance, Target>();

  constructor(options: HealthCheckerOptions) {
    this.config = options.config;
    this.#random = options.random ?? Math.random;
    this.#log = options.logger.child({ service: options.service });
    this.#schedule = { intervalMs: options.config.interval, maxBackoffMs: options.config.max_backoff };
  }

  /** Starts watching an instance; its first probe runs at once. */
  add(instance: UpstreamInstance): void {
    if (this.#targets.has(instance)) return;
    let settle: () => void = () => {};
    const firstVerdict = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const target: Target = {
      instance,
      client: new Client(instance.origin, {
        // The data plane's TLS settings: a probe verifies the instance as requests do,
        // and skips an unsolicited 100 Continue as they do.
        connect: httpConnector(instance.tls, this.config.timeout),
        pipelining: 1,
        headersTimeout: this.config.timeout,
        bodyTimeout: this.config.timeout,
      }),
      timer: undefined,
      probe: undefined,
      firstVerdict,
      settle,
    };
    this.#targets.set(instance, target);
    instance.watchHealth(() => this.#probeNow(target));
    void this.#run(target);
  }

  /** Stops probing an instance (removed, or handed to a newer checker). */
  remove(instance: UpstreamInstance): void {
    const target = this.#targets.get(instance);
    if (!target) return;
    this.#targets.delete(instance);
    this.#drop(target);
  }

  /** Resolves when every instance watched now has had its first probe. */
  async settled(): Promise<void> {
    await Promise.all(Array.from(this.#targets.values(), (target) => target.firstVerdict));
  }

  stop(): void {
    for (const target of this.#targets.values()) this.#drop(target);
    this.#targets.clear();
  }

  #drop(target: Target): void {
    clearTimeout(target.timer);
    target.timer = undefined;
    target.probe?.abort();
    target.settle();
    void target.client.destroy().catch(() => {});
  }

  /** A data-plane connection failed: probe now unless a probe is already on its way. */
  #probeNow(target: Target): void {
    if (target.probe || this.#targets.get(target.instance) !== target) return;
    clearTimeout(target.timer);
    target.timer = undefined;
    void this.#run(target);
  }

  async #run(target: Target): Promise<void> {
    target.timer = undefined;
    const passed = await this.#check(target);
    if (this.#targets.get(target.instance) !== target) return;
    target.instance.recordProbe(passed, this.config.retries);
    target.settle();
    const delay = nextProbeDelay(target.instance.probeFailures, this.#schedule, this.#random);
    target.timer = setTimeout(() => void this.#run(target), delay).unref();
  }

  async #check(target: Target): Promise<boolean> {
    const controller = new AbortController();
    target.probe = controller;
    // One deadline for the whole probe: connect, headers and body.
    const deadline = setTimeout(
      () => controller.abort(new Error('health probe timed out')),
      this.config.timeout,
    ).unref();
    const path = target.instance.basePath + this.config.path;
    try {
      if (this.config.type === 'grpc') {
        const instance = target.instance;
        const serving = await probeGrpcHealth(
          instance.h2,
          instance.basePath,
          this.config.grpc_service,
          this.config.timeout,
          controller.signal,
        );
        if (!serving) this.#log.debug({ instance: instance.origin }, 'grpc health probe: not SERVING');
        return serving;
      }
      const response = await target.client.request({
        method: 'GET',
        path,
        headers: { 'user-agent': 'gatehouse-health-check' },
        signal: controller.signal,
      });
      await response.body.dump({ limit: 64 * 1024, signal: controller.signal });
      const passed = response.statusCode >= 200 && response.statusCode < 400;
      if (!passed)
        this.#log.debug(
          { instance: target.instance.origin, status: response.statusCode },
          'health probe failed',
        );
      return passed;
    } catch (error) {
      if (this.#targets.get(target.instance) === target) {
        this.#log.debug({ instance: target.instance.origin, err: error }, 'health probe failed');
      }
      return false;
    } finally {
      clearTimeout(deadline);
      target.probe = undefined;
    }
  }
}
