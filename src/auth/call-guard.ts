// Protects the auth service (or the JWKS endpoint) from the gateway: every call first
// takes a token from a bucket of max_calls_per_second, then a permit from a circuit
// breaker. Either refusing means "do not call, answer 503 now": waiting for capacity
// would only pile requests up behind an auth service that is already struggling.
// Pure: time comes from the injected clock.

import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { AuthConfig, CircuitBreakerConfig } from '../config/schema.ts';
import { type BucketLimits, takeToken } from '../ratelimit/gcra.ts';
import {
  type BreakerPermit,
  type BreakerState,
  breakerSettings,
  CircuitBreaker,
  type StateChangeListener,
} from '../upstream/circuit-breaker.ts';

export type GuardRefusal = 'rate_limited' | 'circuit_open';

export type Admission =
  | { readonly admitted: true; readonly permit: BreakerPermit }
  | {
      readonly admitted: false;
      readonly refusal: GuardRefusal;
      /** When a call would be admitted again, if known: the breaker's open time, or the next token. */
      readonly retryAfterMs: number | undefined;
    };

export interface CallGuardOptions {
  readonly callsPerSecond: number;
  readonly breaker: CircuitBreakerConfig;
  readonly clock: Clock;
  readonly onBreakerStateChange?: StateChangeListener;
}

export class CallGuard {
  readonly #limits: BucketLimits;
  readonly #breaker: CircuitBreaker;
  readonly #clock: Clock;
  #tat: number | undefined;

  constructor(options: CallGuardOptions) {
    // A bucket of one second's worth of calls: a fresh gateway may send that many at
    // once, then the rate holds. At least one, so rates below 1/s still admit a call.
    this.#limits = { rate: options.callsPerSecond, burst: Math.max(1, Math.ceil(options.callsPerSecond)) };
    this.#clock = options.clock;
    this.#breaker = new CircuitBreaker(
      breakerSettings(options.breaker),
      options.clock,
      options.onBreakerStateChange,
    );
  }

  /** Admits one call, or says why not. Nothing is consumed when the call is refused. */
  acquire(): Admission {
    // Ask the breaker first without side effects, so an open breaker spends no token
    // and a refused token counts no breaker request.
    if (!this.#breaker.canAdmit()) return this.#circuitOpen();
    const decision = takeToken(this.#limits, this.#tat, this.#clock());
    if (!decision.allowed)
      return { admitted: false, refusal: 'rate_limited', retryAfterMs: decision.retryAfterMs };
    this.#tat = decision.tat;
    const permit = this.#breaker.tryAcquire();
    if (permit === undefined) return this.#circuitOpen();
    return { admitted: true, permit };
  }

  #circuitOpen(): Admission {
    // Undefined while half-open with its trial slots taken: no known time to give.
    return { admitted: false, refusal: 'circuit_open', retryAfterMs: this.#breaker.retryAfterMs() };
  }

  /** Failures are network errors, timeouts and 5xx; an answer of any other status is a success. */
  record(permit: BreakerPermit, success: boolean): void {
    this.#breaker.record(permit, success);
  }

  /** Hands back a permit whose call was abandoned: it says nothing about the service. */
  release(permit: BreakerPermit): void {
    this.#breaker.release(permit);
  }

  get breakerState(): BreakerState {
    return this.#breaker.state;
  }
}

/** The guard in front of one auth dependency (the verify endpoint, the JWKS URL), from the auth config. */
export function createCallGuard(config: AuthConfig, clock: Clock, logger: Logger, target: string): CallGuard {
  return new CallGuard({
    callsPerSecond: config.max_calls_per_second,
    breaker: config.circuit_breaker,
    clock,
    onBreakerStateChange: (from, to) => logger.warn({ from, to }, `${target} circuit breaker changed state`),
  });
}
