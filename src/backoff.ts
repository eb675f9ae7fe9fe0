// The one backoff of the gateway: exponential with "equal jitter". The delay doubles
// with every consecutive failure up to a cap, and a random half of it is shaved off so
// that instances (and gateways) that failed together do not retry in lock-step.
// Keeping the other half fixed means a retry never comes sooner than half the nominal
// delay (full jitter can draw ~0 and turn a dead peer into a retry storm).
//
// Used by passive upstream backoff, health-probe scheduling and the auth service's
// retries; each names its own base and cap as a BackoffPolicy.

/** A source of uniform numbers in [0, 1), injectable so tests can pin the jitter. */
export type Random = () => number;

export interface BackoffPolicy {
  /** Nominal delay after the first failure, in ms. */
  readonly baseMs: number;
  /** Largest nominal delay, in ms; no delay ever exceeds it. */
  readonly maxMs: number;
}

/** The nominal (largest) delay after `failures` (>= 1) consecutive failures. */
export function nominalDelay(failures: number, policy: BackoffPolicy): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, failures - 1));
}

/** Delay in ms before the next attempt after `failures` (>= 1) consecutive failures. */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: Random): number {
  const nominal = nominalDelay(failures, policy);
  return nominal / 2 + (random() * nominal) / 2;
}
