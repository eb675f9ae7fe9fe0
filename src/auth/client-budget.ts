// Each client address's share of the verify budget. auth.max_calls_per_second protects
// the auth service, but it is one budget for everybody: one address sending random
// tokens would spend it and every other client's new token would get 503. So every
// verification that ends in a refusal (a 401: the token was not good) is charged to
// the client address that caused it, in a token bucket of auth.failed_per_client per
// second. An address whose bucket is empty gets 429 RATE_LIMITED with Retry-After and
// no verification is made: it locks out only itself, while the shared budget still
// bounds what many addresses together can cause.
//
// The token is taken before the call (a bucket checked only afterwards would let one
// address start any number of concurrent calls) and given back when the verification
// did not end in a refusal: a valid token, or an auth service that could not decide
// (that is the service's failure, not the client's). Only the first request of a
// credential reserves: requests that join its verification (single-flight) or hit the
// cache cost nothing, so a page firing twenty requests with one new token is fine.
//
// Addresses are kept in a bounded LRU: an attacker with more addresses than the bound
// evicts old buckets, which only resets them, and the shared budget still holds.
import { LruMap } from '../cache/lru-map.ts';
import type { Clock } from '../clock.ts';
import { type BucketLimits, gcraInterval, takeToken } from '../ratelimit/gcra.ts';

/** Client addresses tracked at once (about 100 bytes each). */
export const MAX_TRACKED_CLIENTS = 65_536;

export type Reservation =
  | { readonly admitted: true; readonly client: string }
  | { readonly admitted: false; readonly retryAfterMs: number };

export class ClientBudget {
  readonly #limits: BucketLimits;
  readonly #interval: number;
  readonly #clock: Clock;
  /** Client address -> the GCRA theoretical arrival time of its bucket. */
  readonly #tats: LruMap<string, number>;

  constructor(failedPerSecond: number, clock: Clock, maxClients = MAX_TRACKED_CLIENTS) {
    // One second's worth at once, at least one, like the shared call guard.
    this.#limits = { rate: failedPerSecond, burst: Math.max(1, Math.ceil(failedPerSecond)) };
    this.#interval = gcraInterval(failedPerSecond);
    this.#clock = clock;
    this.#tats = new LruMap(maxClients);
  }

  /** Takes a token for one verification by `client`, or says how long it must wait. */
  reserve(client: string): Reservation {
    const decision = takeToken(this.#limits, this.#tats.get(client), this.#clock());
    if (!decision.allowed) return { admitted: false, retryAfterMs: decision.retryAfterMs };
    this.#tats.set(client, decision.tat);
    return { admitted: true, client };
  }

  /** Gives the token back: the verification did not end in a refusal. */
  refund(reservation: Reservation & { admitted: true }): void {
    const tat = this.#tats.get(reservation.client);
    if (tat === undefined) return;
    const back = tat - this.#interval;
    // At or before now the bucket is full again: forget the address.
    if (back <= this.#clock()) this.#tats.delete(reservation.client);
    else this.#tats.set(reservation.client, back);
  }

  /** Addresses tracked now (tests, bounds). */
  get size(): number {
    return this.#tats.size;
  }
}

/** Thrown inside a verification's flight when the client's share is spent. */
export class ClientOverBudget extends Error {
  readonly retryAfterMs: number;

  constructor(retryAfterMs: number) {
    super('client address spent its share of failed verifications');
    this.name = 'ClientOverBudget';
    this.retryAfterMs = retryAfterMs;
  }
}
