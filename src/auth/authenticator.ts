// The authenticator the auth policy calls: Authorization header in, Identity out, or
// a GatewayError (UNAUTHORIZED 401, AUTH_UNAVAILABLE 503). It never fails open: any
// doubt, bug or outage below it ends in AUTH_UNAVAILABLE.
//
// Per request: parse the header (no call for a missing or malformed credential), look
// the SHA-256 of the whole header value up in the verification cache, and on a miss
// let one verification per credential run at a time (single-flight); its verdict is
// cached (valid: min(cache_ttl, exp - now); invalid: negative_cache_ttl) and shared by
// every request that waited for it. A verification that a client address starts is
// charged to that address's share when it ends in a refusal (client-budget.ts), so
// one address sending random tokens is refused (429) long before it can spend the
// auth service's budget for everybody. A share held by verifications still pending is
// not spent: a new credential from that address waits for one of them to end (at most
// one verification budget) and tries again, so a slow or hanging auth service never
// makes a 429 for good tokens (a hang ends in 503 AUTH_UNAVAILABLE, as it should).
//
// It is built once per auth config and is long-lived state (pools, cache, breaker):
// the runtime registry should keep it across reloads while the auth section is unchanged.
import type { Logger } from 'pino';
import { type Clock, systemClock } from '../clock.ts';
import type { AuthConfig } from '../config/schema.ts';
import { GatewayError } from '../errors.ts';
import { ThrottledLog } from '../observability/throttled-log.ts';
import { lazyOwnModule } from '../own-modules.ts';
import { retryAfterHeader } from '../retry-after.ts';
import type { ClientTlsOptions } from '../tls/certificates.ts';
import type { BreakerState } from '../upstream/circuit-breaker.ts';
import { CHALLENGE_INVALID_TOKEN, CHALLENGE_NO_TOKEN, parseAuthorization } from './bearer.ts';
import { ClientBudget, ClientOverBudget, type Reservation } from './client-budget.ts';
import { bearerKey } from './connection-credential.ts';
import type { Identity } from './identity.ts';
import { createRemoteVerifier } from './remote-verifier.ts';
import { verificationBudgetMs } from './retry-budget.ts';
import { SingleFlight } from './single-flight.ts';
import { credentialKey, VerificationCache } from './verification-cache.ts';
import {
  AuthUnavailableError,
  type RejectReason,
  type Verdict,
  type Verifier,
  type VerifyCallResult,
} from './verifier.ts';

export type { Verdict, Verifier, VerifyCallResult, VerifyRequest } from './verifier.ts';

export const OUTAGE_LOG_INTERVAL_MS = 10_000;

// jwt mode's verifier pulls in jose (about 4 MB resident and a few hundred ms of start
// on a busy machine): it is loaded, synchronously, only when a config uses jwt mode.
const jwtVerifierModule = lazyOwnModule<typeof import('./jwt-verifier.ts')>(
  './jwt-verifier.ts',
  import.meta.url,
);

export interface Authenticator {
  /**
   * Resolves to the caller's identity or rejects with a GatewayError: UNAUTHORIZED
   * (with WWW-Authenticate) or AUTH_UNAVAILABLE. `requestId` is sent to the auth
   * service as X-Request-ID in remote mode. `client` is the client address whose share
   * of failed verifications pays for an uncached credential (RATE_LIMITED when spent).
   */
  authenticate(authorization: string | undefined, requestId?: string, client?: string): Promise<Identity>;
  /**
   * The identity of a bearer credential whose valid verdict is cached, at once; undefined
   * means "ask authenticate()". A cached credential is most requests: answering it
   * without a promise keeps the policy chain synchronous. `connection` (the request's
   * socket) lets a keep-alive connection that repeats its credential skip the parse and
   * the SHA-256: see lastCredential.
   */
  cachedIdentity(authorization: string | undefined, connection?: object): Identity | undefined;
  /** State of the breaker that guards the auth service (remote) or JWKS endpoint (jwt). */
  breakerState(): BreakerState;
  /** Refuses new work (AUTH_UNAVAILABLE), lets verifications in flight finish, releases connections. */
  close(): Promise<void>;
  /** Refuses new work and aborts verifications in flight, then releases connections. */
  destroy(): Promise<void>;
}

export interface AuthenticatorDeps {
  readonly logger: Logger;
  readonly clock?: Clock;
  /** [0, 1) source for backoff jitter. */
  readonly random?: () => number;
  /** Told the outcome of every call to the auth service or JWKS endpoint (metrics). */
  readonly onVerifyCall?: (result: VerifyCallResult) => void;
  /** Replaces the verifier the mode would build (tests count the verifications behind the cache). */
  readonly verifier?: Verifier;
  /** auth.tls, read at compile: for verify_url / jwks_url over https. */
  readonly tls?: ClientTlsOptions;
}

export function createAuthenticator(config: AuthConfig, deps: AuthenticatorDeps): Authenticator {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger;
  const verifier: Verifier =
    deps.verifier ??
    (config.mode === 'jwt'
      ? jwtVerifierModule().createJwtVerifier(config, {
          logger,
          clock,
          onCall: deps.onVerifyCall,
          tls: deps.tls,
        })
      : createRemoteVerifier(config, {
          logger,
          clock,
          random: deps.random ?? Math.random,
          onCall: deps.onVerifyCall,
          tls: deps.tls,
        }));
  const cache = new VerificationCache({
    maxEntries: config.cache_max_entries,
    ttlMs: config.cache_ttl,
    negativeTtlMs: config.negative_cache_ttl,
    clock,
  });
  const flights = new SingleFlight<Verdict>();
  const outageLog = new ThrottledLog((fields, message) => logger.warn(fields, message), {
    intervalMs: OUTAGE_LOG_INTERVAL_MS,
  });
  // jwt mode verifies locally: a refusal costs no call, and the JWKS fetches an unknown
  // kid causes are bounded by jwks_cooldown for all clients together.
  const budget =
    config.mode === 'remote' && config.failed_per_client > 0
      ? new ClientBudget(config.failed_per_client, clock)
      : undefined;
  // Reservations of each client address whose verification has not ended yet (while it
  // has any), and the waiters to wake when one ends: what an empty share may be held by.
  const heldByClient = new Map<string, { count: number; readonly waiters: Set<() => void> }>();
  const holdWaitMs = config.mode === 'remote' ? verificationBudgetMs(config.timeout, config.retries) : 0;
  let closed = false;

  /** A token of `client`'s share; waits while the share is held by verifications still running. */
  async function reserve(
    spending: ClientBudget,
    client: string,
    requestId: string | undefined,
  ): Promise<Reservation & { admitted: true }> {
    const deadline = performance.now() + holdWaitMs;
    for (;;) {
      const reservation = spending.reserve(client);
      const held = heldByClient.get(client);
      if (reservation.admitted) {
        // Counted in the same tick, so a waiter woken next never sees the share as spent.
        if (held === undefined) heldByClient.set(client, { count: 1, waiters: new Set() });
        else held.count++;
        return reservation;
      }
      if (held === undefined) {
        // Spent by refusals: the client's doing.
        deps.onVerifyCall?.('client_limited');
        logger.debug(
          { request_id: requestId, client },
          'client address spent its share of failed verifications',
        );
        throw new ClientOverBudget(reservation.retryAfterMs);
      }
      // Held by verifications still running: each ends within its budget, refunded unless refused.
      const left = deadline - performance.now();
      if (left <= 0)
        throw new AuthUnavailableError('verifications of this client address still pending', {
          refused: true,
        });
      let wake!: () => void;
      const woken = new Promise<void>((resolve) => {
        wake = resolve;
      });
      const timer = setTimeout(wake, left);
      held.waiters.add(wake);
      await woken;
      clearTimeout(timer);
      held.waiters.delete(wake);
    }
  }

  /** The verification behind a reservation has ended (and its token was refunded or kept). */
  function release(client: string): void {
    const held = heldByClient.get(client);
    if (held === undefined) return;
    if (--held.count === 0) heldByClient.delete(client);
    for (const wake of held.waiters) wake();
  }

  async function verifyAndRemember(
    key: string,
    authorization: string,
    token: string,
    requestId: string | undefined,
    client: string | undefined,
  ) {
    if (budget === undefined || client === undefined)
      return verifyOnce(key, authorization, token, requestId, undefined);
    const reservation = await reserve(budget, client, requestId);
    try {
      return await verifyOnce(key, authorization, token, requestId, reservation);
    } finally {
      release(client);
    }
  }

  async function verifyOnce(
    key: string,
    authorization: string,
    token: string,
    requestId: string | undefined,
    reservation: (Reservation & { admitted: true }) | undefined,
  ) {
    let verdict: Verdict;
    try {
      verdict = await verifier.verify({ authorization, token, requestId });
    } catch (error) {
      if (reservation !== undefined) budget!.refund(reservation);
      if (error instanceof AuthUnavailableError) {
        const fields = { request_id: requestId, reason: error.reason, err: error.cause };
        // An outage fails every new token alike: one warning per reason per interval.
        if (error.refused) logger.debug(fields, 'token could not be verified');
        else outageLog.log(error.reason, fields, 'token could not be verified');
        throw error;
      }
      // A bug, not an outage: still 503, never a pass.
      logger.error({ request_id: requestId, err: error }, 'token verification failed unexpectedly');
      throw new AuthUnavailableError('unexpected error', { cause: error });
    }
    // Only a refusal stays charged to the client.
    if (reservation !== undefined && verdict.valid) budget!.refund(reservation);
    if (verdict.valid) cache.setValid(key, verdict.identity, verdict.expiresAtMs);
    else if (verdict.cacheable) cache.setInvalid(key, verdict.reason);
    return verdict;
  }

  return {
    cachedIdentity(authorization, connection) {
      if (closed || authorization === undefined) return undefined;
      const key = bearerKey(authorization, connection);
      if (key === undefined) return undefined;
      const cached = cache.get(key);
      return cached?.valid ? cached.identity : undefined;
    },
    async authenticate(authorization, requestId, client) {
      const credential = parseAuthorization(authorization);
      if (credential.kind === 'absent') throw unauthorized(CHALLENGE_NO_TOKEN, 'missing');
      if (credential.kind === 'malformed') throw unauthorized(CHALLENGE_INVALID_TOKEN, 'malformed');
      if (closed) throw unavailable(undefined);
      // parseAuthorization returned a bearer credential, so the header is a string.
      const header = authorization as string;
      const key = credentialKey(header);
      const cached = cache.get(key);
      if (cached !== undefined) {
        if (cached.valid) return cached.identity;
        throw unauthorized(CHALLENGE_INVALID_TOKEN, cached.reason);
      }
      let verdict: Verdict;
      try {
        verdict = await flights.run(key, () =>
          verifyAndRemember(key, header, credential.token, requestId, client),
        );
      } catch (error) {
        if (error instanceof ClientOverBudget)
          throw new GatewayError('RATE_LIMITED', { headers: retryAfterHeader(error.retryAfterMs) });
        // One error object per request: the shared verification's error is only the cause.
        throw unavailable(error);
      }
      if (verdict.valid) return verdict.identity;
      throw unauthorized(CHALLENGE_INVALID_TOKEN, verdict.reason);
    },
    breakerState: () => verifier.breakerState(),
    async close() {
      closed = true;
      await flights.settled();
      outageLog.flush();
      await verifier.close();
      cache.clear();
    },
    async destroy() {
      closed = true;
      await verifier.destroy();
      await flights.settled();
      outageLog.flush();
      cache.clear();
    },
  };
}

function unauthorized(challenge: string, reason: RejectReason): GatewayError {
  return new GatewayError('UNAUTHORIZED', { headers: { 'www-authenticate': challenge }, reason });
}

function unavailable(cause: unknown): GatewayError {
  const waitMs = cause instanceof AuthUnavailableError ? cause.retryAfterMs : undefined;
  if (waitMs === undefined) return new GatewayError('AUTH_UNAVAILABLE', { cause });
  return new GatewayError('AUTH_UNAVAILABLE', {
    cause,
    headers: retryAfterHeader(waitMs),
  });
}
