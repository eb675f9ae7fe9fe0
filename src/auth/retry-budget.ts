// How the remote verifier spaces and bounds its retries of the auth service. The
// delays come from the gateway's one backoff (../backoff.ts, equal jitter), so
// gateways that lost the auth service together do not come back to it in lockstep,
// and no retry follows its failure at once.
import { type BackoffPolicy, nominalDelay } from '../backoff.ts';

/** 50 ms after the first failure, doubling up to 1 s. */
export const AUTH_RETRY_BACKOFF: BackoffPolicy = { baseMs: 50, maxMs: 1000 };

/**
 * The most time one verification may take: every attempt at its full timeout plus
 * every backoff at its largest. With the defaults (2s, 3 retries) that is
 * 4 x 2000 + 50 + 100 + 200 = 8350 ms. It is enforced as a deadline, so a request
 * never waits longer for the auth service whatever the timers do.
 */
export function verificationBudgetMs(timeoutMs: number, retries: number): number {
  let budget = timeoutMs * (retries + 1);
  for (let retry = 1; retry <= retries; retry++) budget += nominalDelay(retry, AUTH_RETRY_BACKOFF);
  return budget;
}
