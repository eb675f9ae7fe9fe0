// The one Retry-After computation (RFC 9110 §10.2.3, delay-seconds). Rounded up, so a
// client that waits as told is never early, and at least 1: "0" would invite the
// client straight back into the refusal it just got.

/** The Retry-After header for a wait of `waitMs` milliseconds. */
export function retryAfterHeader(waitMs: number): { 'retry-after': string } {
  return { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) };
}
