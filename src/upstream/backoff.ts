// Exponential backoff with "equal jitter": the delay doubles with every consecutive
// failure up to a cap, and a random half of it is shaved off so that instances (and
// gateways) that failed together do not retry in lock-step. Keeping the other half
// fixed means a retry never comes sooner than half the nominal delay (full jitter can
// draw ~0 and turn a dead instance into a probe storm).

/** A source of uniform numbers in [0, 1), injectable so tests can pin the jitter. */
export type Random = () => number;

export interface BackoffPolicy {
  /** Nominal delay after the first failure, in ms. */
  readonly baseMs: number;
  /** Largest nominal delay, in ms; no delay ever exceeds it. */
  readonly maxMs: number;
}

/** Delay in ms before the next attempt after `failures` (>= 1) consecutive failures. */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: Random): number {
  const nominal = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, failures - 1));
  return nominal / 2 + (random() * nominal) / 2;
}

/** The passive backoff of an instance that refused a connection (no health checks). */
export const UNREACHABLE_BACKOFF: BackoffPolicy = { baseMs: 1_000, maxMs: 30_000 };

export interface ProbeSchedule {
  /** Time between probes of a passing instance. */
  readonly intervalMs: number;
  /** Cap of the backoff between probes of a failing instance. */
  readonly maxBackoffMs: number;
}

/**
 * Delay before the next health probe. A passing instance is probed every interval; a
 * failing one sooner at first (base = min(interval, 1s), so `retries` failures are
 * confirmed within seconds, not `retries` x 30s), then ever more rarely up to
 * max_backoff so a long-dead instance costs almost nothing.
 */
export function nextProbeDelay(consecutiveFailures: number, schedule: ProbeSchedule, random: Random): number {
  if (consecutiveFailures === 0) return schedule.intervalMs;
  const policy = { baseMs: Math.min(schedule.intervalMs, 1_000), maxMs: schedule.maxBackoffMs };
  return backoffDelay(consecutiveFailures, policy, random);
}
