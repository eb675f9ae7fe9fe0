// When the health checker probes an instance next (backoff from ../backoff.ts).
import { backoffDelay, type Random } from '../backoff.ts';

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
