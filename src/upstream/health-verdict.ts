// What active health checks concluded about one instance: pending until the first
// probe, then healthy or unhealthy by `retries` consecutive failures or one pass. It
// lives on the instance, not in the health checker, so a reload that rebuilds the
// checker keeps the verdict.
import type { Logger } from 'pino';

/** pending: health-checked but not probed yet, so not trusted with traffic. */
export type HealthState = 'pending' | 'healthy' | 'unhealthy';

export class HealthVerdict {
  readonly #log: Logger;
  #state: HealthState;
  #probeFailures = 0;
  /** Set while a health checker watches the instance: asks it for a probe now. */
  #probeNow: (() => void) | undefined;

  /** A new instance of a health-checked service waits for a passing probe. */
  constructor(healthChecked: boolean, log: Logger) {
    this.#log = log;
    this.#state = healthChecked ? 'pending' : 'healthy';
  }

  get state(): HealthState {
    return this.#state;
  }

  get healthy(): boolean {
    return this.#state === 'healthy';
  }

  get probeFailures(): number {
    return this.#probeFailures;
  }

  /** Whether a health checker watches the instance (then probes, not backoff, decide). */
  get watched(): boolean {
    return this.#probeNow !== undefined;
  }

  /** Attaches a checker's probe-now hook, or with undefined detaches it (healthy by definition). */
  watch(probeNow: (() => void) | undefined): void {
    this.#probeNow = probeNow;
    if (!probeNow) {
      this.#probeFailures = 0;
      if (this.#state !== 'healthy') this.#set('healthy', 'health checks removed');
    }
  }

  /** Drops the checker's hook and keeps the verdict (a retired instance draining). */
  detach(): void {
    this.#probeNow = undefined;
  }

  /** A connection failed on a watched instance: unhealthy at once, and a probe starts now. */
  connectionFailed(): void {
    if (!this.#probeNow || this.#state !== 'healthy') return;
    this.#set('unhealthy', 'connection failed');
    this.#probeNow();
  }

  /** Result of one active probe; `retries` consecutive failures make a healthy instance unhealthy. */
  recordProbe(passed: boolean, retries: number): void {
    if (passed) {
      this.#probeFailures = 0;
      if (this.#state !== 'healthy') this.#set('healthy', 'probe passed');
      return;
    }
    this.#probeFailures++;
    if (this.#state === 'pending') this.#set('unhealthy', 'first probe failed');
    else if (this.#state === 'healthy' && this.#probeFailures >= retries)
      this.#set('unhealthy', `${retries} probes failed`);
  }

  #set(next: HealthState, reason: string): void {
    const previous = this.#state;
    this.#state = next;
    if (next === 'healthy') this.#log.info({ from: previous, reason }, 'upstream instance healthy');
    else this.#log.warn({ from: previous, reason }, 'upstream instance unhealthy');
  }
}
