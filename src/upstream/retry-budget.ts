// A route's retry budget, after Finagle's RetryBudget and Envoy's retry_budget: over a
// sliding window, retries may add at most `ratio` of the requests' load, plus a small
// floor so that a quiet route can still retry at all. When an outage makes every
// request fail, retries then add 20% (say) to the load instead of multiplying it by
// the number of attempts. Pure: time comes from the injected clock.
import type { Clock } from '../clock.ts';

export interface RetryBudgetSettings {
  /** Retries / requests allowed over the window, e.g. 0.2. */
  readonly ratio: number;
  /** Retries always allowed per window, whatever the ratio (Finagle's minRetriesPerSec). */
  readonly minRetries: number;
  readonly windowMs: number;
}

/** Ten slots: the window slides in tenths, so old traffic leaves it smoothly. */
const SLOTS = 10;

export class RetryBudget {
  readonly #settings: RetryBudgetSettings;
  readonly #clock: Clock;
  readonly #slotMs: number;
  readonly #requests = new Array<number>(SLOTS).fill(0);
  readonly #retries = new Array<number>(SLOTS).fill(0);
  /** Index of the slot that holds "now", in slot units since the clock's origin. */
  #current = 0;

  constructor(settings: RetryBudgetSettings, clock: Clock) {
    this.#settings = settings;
    this.#clock = clock;
    this.#slotMs = settings.windowMs / SLOTS;
    this.#current = Math.floor(clock() / this.#slotMs);
  }

  /** Counts one request (first attempts only). */
  request(): void {
    this.#requests[this.#advance()]++;
  }

  /** Takes one retry from the budget; false when the window's budget is spent. */
  tryRetry(): boolean {
    const slot = this.#advance();
    let requests = 0;
    let retries = 0;
    for (let i = 0; i < SLOTS; i++) {
      requests += this.#requests[i];
      retries += this.#retries[i];
    }
    const allowed = Math.max(this.#settings.minRetries, this.#settings.ratio * requests);
    if (retries + 1 > allowed) return false;
    this.#retries[slot]++;
    return true;
  }

  /** Clears the slots the clock has moved past and returns the current one. */
  #advance(): number {
    const now = Math.floor(this.#clock() / this.#slotMs);
    const passed = Math.min(now - this.#current, SLOTS);
    for (let step = 1; step <= passed; step++) {
      const index = (this.#current + step) % SLOTS;
      this.#requests[index] = 0;
      this.#retries[index] = 0;
    }
    if (now > this.#current) this.#current = now;
    return this.#current % SLOTS;
  }
}
