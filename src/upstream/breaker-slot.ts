// The circuit breaker of one instance, replaced (closed, counts reset) when a reload
// changes its settings. Leases keep the breaker that admitted them, so results of
// requests admitted by a replaced breaker land on it and fade away with it.
import type { Logger } from 'pino';
import type { Clock } from '../clock.ts';
import type { CircuitBreakerConfig } from '../config/schema.ts';
import {
  type BreakerSettings,
  breakerSettings,
  CircuitBreaker,
  sameBreakerSettings,
} from './circuit-breaker.ts';

export class BreakerSlot {
  readonly #clock: Clock;
  readonly #log: Logger;
  #settings: BreakerSettings;
  #current: CircuitBreaker;

  constructor(config: CircuitBreakerConfig, clock: Clock, log: Logger) {
    this.#clock = clock;
    this.#log = log;
    this.#settings = breakerSettings(config);
    this.#current = this.#create();
  }

  get current(): CircuitBreaker {
    return this.#current;
  }

  /** Replaces the breaker when the settings changed; returns whether it did. */
  reconfigure(config: CircuitBreakerConfig): boolean {
    const settings = breakerSettings(config);
    if (sameBreakerSettings(settings, this.#settings)) return false;
    this.#settings = settings;
    this.#current = this.#create();
    return true;
  }

  #create(): CircuitBreaker {
    return new CircuitBreaker(this.#settings, this.#clock, (from, to) => {
      const fields = { from, to };
      if (to === 'open') this.#log.warn(fields, 'circuit breaker opened');
      else this.#log.info(fields, `circuit breaker ${to === 'closed' ? 'closed' : 'half-open'}`);
    });
  }
}
