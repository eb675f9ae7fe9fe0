// The signing keys published at auth.jwks_url. jose's remote set caches them
// (refetched after JWKS_MAX_AGE_MS) and fetches again on an unknown kid at most once
// per jwks_cooldown. Every fetch goes through the same call rate limit and circuit
// breaker as remote mode. The keys of the last successful fetch stay at hand
// (lastKnown) so that an outage of the endpoint does not lock out users whose keys
// the gateway already holds.

import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  type ExportedJWKSCache,
  type FetchImplementation,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  jwksCache,
} from 'jose';
import type { Logger } from 'pino';
import { Agent, fetch as undiciFetch } from 'undici';
import type { Clock } from '../clock.ts';
import type { AuthConfig } from '../config/schema.ts';
import type { ClientTlsOptions } from '../tls/certificates.ts';
import { connectOptions } from '../tls/client-options.ts';
import { type CallGuard, createCallGuard } from './call-guard.ts';
import { AuthUnavailableError, type VerifyCallResult } from './verifier.ts';

/** jose's default: keys older than this are fetched again before use. */
export const JWKS_MAX_AGE_MS = 10 * 60_000;

export interface JwksDeps {
  readonly logger: Logger;
  readonly clock: Clock;
  /** Overrides JWKS_MAX_AGE_MS (tests of the stale-keys fallback). */
  readonly jwksMaxAgeMs?: number;
  readonly onCall?: (result: VerifyCallResult) => void;
  /** auth.tls for a jwks_url over https. */
  readonly tls?: ClientTlsOptions;
}

export interface JwksKeys {
  /** jose's caching, refetching key set. */
  readonly current: JWTVerifyGetKey;
  /** The keys of the last successful fetch, for when the endpoint fails. */
  lastKnown(): JWTVerifyGetKey | undefined;
  readonly guard: CallGuard;
  readonly agent: Agent;
}

export function createJwksKeys(config: AuthConfig, deps: JwksDeps): JwksKeys {
  const agent = new Agent({
    connections: 4,
    keepAliveTimeout: 4000,
    keepAliveMaxTimeout: 4000,
    connectTimeout: config.timeout,
    connect: connectOptions(deps.tls),
  });
  const guard = createCallGuard(config, deps.clock, deps.logger, 'JWKS endpoint');

  const guardedFetch: FetchImplementation = async (url, init) => {
    const admission = guard.acquire();
    if (!admission.admitted) {
      deps.onCall?.(admission.refusal);
      throw new AuthUnavailableError(`JWKS fetch ${admission.refusal}`, {
        refused: true,
        retryAfterMs: admission.retryAfterMs,
      });
    }
    try {
      // jose hands over the global fetch's Headers; undici's fetch reads any iterable of pairs.
      const headers = [...init.headers] as [string, string][];
      const response = await undiciFetch(url, { ...init, headers, dispatcher: agent });
      guard.record(admission.permit, response.status < 500);
      deps.onCall?.(response.status === 200 ? 'jwks_ok' : response.status >= 500 ? 'error' : 'unusable');
      if (response.status !== 200)
        deps.logger.warn({ status: response.status }, 'JWKS endpoint answered without keys');
      // undici's Response is the one Node's global fetch returns; only the types differ.
      return response as unknown as Response;
    } catch (error) {
      guard.record(admission.permit, false);
      deps.onCall?.('error');
      deps.logger.warn({ err: error }, 'JWKS fetch failed');
      throw error;
    }
  };

  // jose writes every successful fetch into this slot; it is the stale-keys fallback.
  const slot: Partial<ExportedJWKSCache> = {};
  const current = createRemoteJWKSet(new URL(config.jwks_url!), {
    timeoutDuration: config.timeout,
    cooldownDuration: config.jwks_cooldown,
    cacheMaxAge: deps.jwksMaxAgeMs ?? JWKS_MAX_AGE_MS,
    [jwksCache]: slot as ExportedJWKSCache,
    [customFetch]: guardedFetch,
  });

  let lastJwks: JSONWebKeySet | undefined;
  let lastSet: JWTVerifyGetKey | undefined;
  return {
    current,
    guard,
    agent,
    lastKnown() {
      if (slot.jwks === undefined) return undefined;
      if (slot.jwks !== lastJwks) {
        lastJwks = slot.jwks;
        lastSet = createLocalJWKSet(slot.jwks);
      }
      return lastSet;
    },
  };
}
