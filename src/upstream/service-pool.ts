// The per-snapshot face of one service: picks an available instance for a request and
// hands out a lease that must be released exactly once with the request's outcome.
// On the hot path of every request, so it allocates nothing but the lease.
import type { ServiceConfig } from '../config/schema.ts';
import { GatewayError } from '../errors.ts';
import { retryAfterHeader } from '../retry-after.ts';
import type { BreakerPermit, CircuitBreaker } from './circuit-breaker.ts';
import type { UpstreamInstance } from './instance.ts';
import { createSelector, type Selector } from './selectors.ts';

export type { UpstreamInstance } from './instance.ts';

/**
 * success: the instance answered well. failure: 5xx, reset, response timeout.
 * unreachable: no connection could be made (also a failure; the instance leaves
 * rotation). neutral: the client went away first, which says nothing about the
 * instance: the breaker counts neither outcome and gets its slot back.
 */
export type LeaseOutcome = 'success' | 'failure' | 'unreachable' | 'neutral';

export interface Lease {
  readonly instance: UpstreamInstance;
  /** Idempotent: only the first call counts. */
  release(outcome: LeaseOutcome): void;
}

/** The live instance list of a service; discovery may replace it between requests. */
export interface InstanceSource {
  readonly instances: readonly UpstreamInstance[];
}

class InstanceLease implements Lease {
  readonly instance: UpstreamInstance;
  // The breaker that admitted the request: a reload may swap the instance's breaker.
  readonly #breaker: CircuitBreaker;
  readonly #permit: BreakerPermit;
  #released = false;

  constructor(instance: UpstreamInstance, breaker: CircuitBreaker, permit: BreakerPermit) {
    this.instance = instance;
    this.#breaker = breaker;
    this.#permit = permit;
  }

  release(outcome: LeaseOutcome): void {
    if (this.#released) return;
    this.#released = true;
    switch (outcome) {
      case 'success':
      case 'failure':
        this.instance.markReachable();
        this.#breaker.record(this.#permit, outcome === 'success');
        break;
      case 'unreachable':
        this.#breaker.record(this.#permit, false);
        this.instance.markUnreachable();
        break;
      case 'neutral':
        this.#breaker.release(this.#permit);
        break;
    }
    this.instance.end();
  }
}

export class ServicePool {
  readonly name: string;
  /** The validated service config of this snapshot (timeouts for the forwarder). */
  readonly config: ServiceConfig;
  readonly #source: InstanceSource;
  readonly #selector: Selector<UpstreamInstance>;
  /** Reused on every acquire: candidates live only for the duration of one call. */
  readonly #candidates: UpstreamInstance[] = [];

  constructor(name: string, config: ServiceConfig, source: InstanceSource) {
    this.name = name;
    this.config = config;
    this.#source = source;
    this.#selector = createSelector<UpstreamInstance>(config.load_balancing);
  }

  get instances(): readonly UpstreamInstance[] {
    return this.#source.instances;
  }

  /**
   * Leases an available instance not in `exclude` (the ones a retry already tried), or
   * throws UPSTREAM_UNAVAILABLE at once; requests never queue for an instance.
   */
  acquire(exclude?: ReadonlySet<UpstreamInstance>): Lease {
    const candidates = this.#candidates;
    candidates.length = 0;
    for (const instance of this.#source.instances) {
      if ((exclude === undefined || !exclude.has(instance)) && instance.isAvailable())
        candidates.push(instance);
    }
    try {
      while (candidates.length > 0) {
        const instance = this.#selector.pick(candidates)!;
        const breaker = instance.breaker;
        const permit = breaker.tryAcquire();
        if (permit) {
          instance.begin();
          return new InstanceLease(instance, breaker, permit);
        }
        // Defensive: canAdmit() said yes a moment ago; should the breaker refuse now, pick again.
        const index = candidates.indexOf(instance);
        candidates[index] = candidates[candidates.length - 1];
        candidates.pop();
      }
    } finally {
      candidates.length = 0;
    }
    throw this.#unavailable();
  }

  #unavailable(): GatewayError {
    const waitMs = soonestReturnMs(this.#source.instances);
    if (waitMs === undefined) return new GatewayError('UPSTREAM_UNAVAILABLE');
    return new GatewayError('UPSTREAM_UNAVAILABLE', {
      headers: retryAfterHeader(waitMs),
    });
  }
}

/**
 * Soonest time an instance is known to come back: an open breaker's remaining timeout
 * or a passive backoff's remaining time (the later of the two when both apply).
 * Instances waiting for a health probe have no known time and are left out, so there
 * is no Retry-After when only probes could bring an instance back.
 */
function soonestReturnMs(instances: readonly UpstreamInstance[]): number | undefined {
  let soonest: number | undefined;
  for (const instance of instances) {
    if (!instance.healthy) continue;
    const breakerMs = instance.breaker.retryAfterMs();
    const backoffMs = instance.backoffRemainingMs();
    if (breakerMs === undefined && backoffMs === 0) continue;
    const waitMs = Math.max(breakerMs ?? 0, backoffMs);
    if (soonest === undefined || waitMs < soonest) soonest = waitMs;
  }
  return soonest;
}
