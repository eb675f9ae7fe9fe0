// A circuit breaker with gobreaker's semantics, written as a pure state machine so the
// selector can ask "may I send to this instance?" before a call (wrap-a-function
// breakers cannot answer that). Time comes from an injected clock.
import type { Clock } from '../clock.ts';
import type { CircuitBreakerConfig } from '../config/schema.ts';

export type BreakerState = 'closed' | 'half_open' | 'open';

export interface BreakerSettings {
  /** Trial requests admitted while half-open; that many consecutive successes close it. */
  readonly maxRequests: number;
  /** Closed-state counting window in ms. */
  readonly intervalMs: number;
  /** Time spent open before half-open, in ms. */
  readonly timeoutMs: number;
  readonly failureRatio: number;
  readonly minRequests: number;
}

export interface BreakerCounts {
  requests: number;
  totalSuccesses: number;
  totalFailures: number;
  consecutiveSuccesses: number;
  consecutiveFailures: number;
}

/** Proof that a request was admitted; results from an older generation are ignored. */
export interface BreakerPermit {
  readonly generation: number;
}

export type StateChangeListener = (from: BreakerState, to: BreakerState) => void;

/** The numeric form used by the gatehouse_breaker_state metric. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = {
  closed: 0,
  half_open: 1,
  open: 2,
};

export class CircuitBreaker {
  readonly #settings: BreakerSettings;
  readonly #clock: Clock;
  readonly #onStateChange: StateChangeListener | undefined;
  #state: BreakerState = 'closed';
  #generation = 0;
  /** End of the current closed window, or of the open period. 0 means no deadline. */
  #expiry = 0;
  #counts: BreakerCounts = emptyCounts();

  constructor(settings: BreakerSettings, clock: Clock, onStateChange?: StateChangeListener) {
    this.#settings = settings;
    this.#clock = clock;
    this.#onStateChange = onStateChange;
    this.#newGeneration(clock());
  }

  get state(): BreakerState {
    this.#advance(this.#clock());
    return this.#state;
  }

  get counts(): Readonly<BreakerCounts> {
    this.#advance(this.#clock());
    return { ...this.#counts };
  }

  /** Whether a request would be admitted now, without admitting it. */
  canAdmit(): boolean {
    this.#advance(this.#clock());
    if (this.#state === 'open') return false;
    return this.#state === 'closed' || this.#counts.requests < this.#settings.maxRequests;
  }

  /** Admits one request and counts it, or returns undefined when the breaker refuses. */
  tryAcquire(): BreakerPermit | undefined {
    if (!this.canAdmit()) return undefined;
    this.#counts.requests++;
    return { generation: this.#generation };
  }

  /**
   * Hands back an admitted request's slot without counting an outcome (the client went
   * away, so the call says nothing about the instance). Without it such a permit would
   * hold one of the half-open trial slots forever: the breaker could then never collect
   * max_requests successes and would stay half-open, admitting nothing, for good.
   */
  release(permit: BreakerPermit): void {
    this.#advance(this.#clock());
    if (permit.generation !== this.#generation || this.#counts.requests === 0) return;
    this.#counts.requests--;
  }

  /** Records the outcome of an admitted request. */
  record(permit: BreakerPermit, success: boolean): void {
    const now = this.#clock();
    this.#advance(now);
    if (permit.generation !== this.#generation) return;
    const counts = this.#counts;
    if (success) {
      counts.totalSuccesses++;
      counts.consecutiveSuccesses++;
      counts.consecutiveFailures = 0;
      if (this.#state === 'half_open' && counts.consecutiveSuccesses >= this.#settings.maxRequests) {
        this.#setState('closed', now);
      }
      return;
    }
    counts.totalFailures++;
    counts.consecutiveFailures++;
    counts.consecutiveSuccesses = 0;
    if (this.#state === 'half_open') {
      this.#setState('open', now);
    } else if (this.#state === 'closed' && this.#readyToTrip()) {
      this.#setState('open', now);
    }
  }

  /** Milliseconds until an open breaker lets trial requests through; undefined otherwise. */
  retryAfterMs(): number | undefined {
    const now = this.#clock();
    this.#advance(now);
    return this.#state === 'open' ? Math.max(0, this.#expiry - now) : undefined;
  }

  #readyToTrip(): boolean {
    const { requests, totalFailures } = this.#counts;
    return requests >= this.#settings.minRequests && totalFailures / requests >= this.#settings.failureRatio;
  }

  /** Applies the transitions that time alone causes: a new closed window, open -> half-open. */
  #advance(now: number): void {
    if (this.#state === 'closed') {
      if (this.#expiry !== 0 && this.#expiry <= now) this.#newGeneration(now);
    } else if (this.#state === 'open' && this.#expiry <= now) {
      this.#setState('half_open', now);
    }
  }

  #setState(next: BreakerState, now: number): void {
    const previous = this.#state;
    if (previous === next) return;
    this.#state = next;
    this.#newGeneration(now);
    this.#onStateChange?.(previous, next);
  }

  #newGeneration(now: number): void {
    this.#generation++;
    this.#counts = emptyCounts();
    if (this.#state === 'closed') {
      this.#expiry = this.#settings.intervalMs > 0 ? now + this.#settings.intervalMs : 0;
    } else if (this.#state === 'open') {
      this.#expiry = now + this.#settings.timeoutMs;
    } else {
      this.#expiry = 0;
    }
  }
}

function emptyCounts(): BreakerCounts {
  return {
    requests: 0,
    totalSuccesses: 0,
    totalFailures: 0,
    consecutiveSuccesses: 0,
    consecutiveFailures: 0,
  };
}

/** The breaker settings a `circuit_breaker` config section describes. */
export function breakerSettings(config: CircuitBreakerConfig): BreakerSettings {
  return {
    maxRequests: config.max_requests,
    intervalMs: config.interval,
    timeoutMs: config.timeout,
    failureRatio: config.failure_ratio,
    minRequests: config.min_requests,
  };
}

export function sameBreakerSettings(a: BreakerSettings, b: BreakerSettings): boolean {
  return (
    a.maxRequests === b.maxRequests &&
    a.intervalMs === b.intervalMs &&
    a.timeoutMs === b.timeoutMs &&
    a.failureRatio === b.failureRatio &&
    a.minRequests === b.minRequests
  );
}
