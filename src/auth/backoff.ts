// Delays between attempts to reach the auth service: exponential with full jitter
// (AWS architecture blog, "Exponential Backoff and Jitter"), so gateways that lost
// the auth service together do not come back to it in lockstep.

export const BACKOFF_BASE_MS = 50;
export const BACKOFF_CAP_MS = 1000;

/** The largest delay before retry number `retry` (1 for the first retry). */
export function maxBackoffMs(retry: number): number {
  return Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (retry - 1));
}

/** Full jitter: uniform in [0, maxBackoffMs(retry)). `random` returns [0, 1). */
export function backoffDelayMs(retry: number, random: () => number): number {
  return Math.floor(random() * maxBackoffMs(retry));
}

/**
 * The most time one verification may take: every attempt at its full timeout plus
 * every backoff at its largest. With the defaults (2s, 3 retries) that is
 * 4 x 2000 + 50 + 100 + 200 = 8350 ms. It is enforced as a deadline, so a request
 * never waits longer for the auth service whatever the timers do.
 */
export function verificationBudgetMs(timeoutMs: number, retries: number): number {
  let budget = timeoutMs * (retries + 1);
  for (let retry = 1; retry <= retries; retry++) budget += maxBackoffMs(retry);
  return budget;
}
