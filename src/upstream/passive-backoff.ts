// Passive backoff of an instance without health checks: a refused connection takes it
// out of rotation at once, for a delay that grows with consecutive outages (see
// backoff.ts); any answer from the instance starts the count over.
import type { Logger } from 'pino';
import { type BackoffPolicy, backoffDelay, type Random } from '../backoff.ts';
import type { Clock } from '../clock.ts';

/** The passive backoff of an instance that refused a connection. */
export const UNREACHABLE_BACKOFF: BackoffPolicy = { baseMs: 1_000, maxMs: 30_000 };

export class PassiveBackoff {
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #log: Logger;
  /** Out of rotation until this time; 0 = not down. */
  #downUntil = 0;
  #streak = 0;

  constructor(clock: Clock, random: Random, log: Logger) {
    this.#clock = clock;
    this.#random = random;
    this.#log = log;
  }

  /** Whether the instance is out of rotation now; logs once when it comes back. */
  get down(): boolean {
    if (this.#downUntil === 0) return false;
    if (this.#clock() < this.#downUntil) return true;
    this.#downUntil = 0;
    this.#log.info('upstream instance back in rotation after backoff');
    return false;
  }

  /** Time left, 0 when no backoff runs. */
  remainingMs(): number {
    return this.down ? this.#downUntil - this.#clock() : 0;
  }

  /** The instance answered (whatever the status). */
  reset(): void {
    this.#streak = 0;
  }

  /** Forgets a running backoff (health checks took over). */
  clear(): void {
    this.#downUntil = 0;
    this.#streak = 0;
  }

  /** A connection to the instance failed: out of rotation from now. */
  unreachable(): void {
    const now = this.#clock();
    // Concurrent requests fail together; one outage must count as one step of backoff.
    if (now < this.#downUntil) return;
    this.#streak++;
    const delay = Math.round(backoffDelay(this.#streak, UNREACHABLE_BACKOFF, this.#random));
    this.#downUntil = now + delay;
    this.#log.warn(
      { retryInMs: delay, streak: this.#streak },
      'upstream instance unreachable, out of rotation',
    );
  }
}
