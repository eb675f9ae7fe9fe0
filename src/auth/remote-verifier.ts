// Remote mode: the auth service decides. `GET verify_url` carries the client's
// Authorization header (and the request id), nothing else from the client.
//
//   2xx            valid; the JSON body names the user. A 2xx whose body is not JSON,
//                  is too large, or has no usable user id/roles is AUTH_UNAVAILABLE:
//                  the service said yes but we cannot tell who, and guessing would be
//                  failing open. Not retried (a complete answer will not improve in
//                  50 ms) and a success for the breaker (the service answered; one
//                  user's odd record must not open the breaker for everybody).
//   401, 403       invalid -> UNAUTHORIZED. A success for the breaker.
//   5xx, network   retried, then AUTH_UNAVAILABLE. Failures for the breaker.
//   error, timeout
//   anything else  (3xx, 400, 404, 429...) AUTH_UNAVAILABLE at once: a misconfigured
//                  verify_url does not get better by asking again.
//
// Bounds: each attempt is cut at `timeout`; at most `retries` retries with jittered
// backoff; the whole verification at verificationBudgetMs() (retry-budget.ts). The deadline
// is measured on the monotonic clock, because attempts and backoff run on real timers;
// the injected clock drives the decisions tests move by hand (bucket, breaker, cache).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { backoffDelay } from '../backoff.ts';
import type { Clock } from '../clock.ts';
import type { AuthConfig } from '../config/schema.ts';
import type { ClientTlsOptions } from '../tls/certificates.ts';
import { httpConnector } from '../upstream/interim-continue.ts';
import { Pool } from '../upstream/undici-parts.ts';
import { createCallGuard } from './call-guard.ts';
import { type ClaimNames, identityFromClaims, isSafeHeaderValue } from './identity.ts';
import { AUTH_RETRY_BACKOFF, verificationBudgetMs } from './retry-budget.ts';
import {
  AuthUnavailableError,
  type Verdict,
  type Verifier,
  type VerifyCallResult,
  type VerifyRequest,
} from './verifier.ts';

/** Larger answers are not an identity; they are refused rather than buffered. */
export const MAX_ANSWER_BYTES = 64 * 1024;
/** Below the usual 5 s server keep-alive, so the gateway never reuses a socket the auth service is closing. */
const KEEP_ALIVE_MS = 4000;
/** Concurrent connections to the auth service; the call rate limit bounds the rest. */
const MAX_CONNECTIONS = 64;

export interface RemoteVerifierDeps {
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: () => number;
  readonly onCall?: (result: VerifyCallResult) => void;
  /** auth.tls for a verify_url over https. */
  readonly tls?: ClientTlsOptions;
}

/** What one attempt learned. `retry` ends in AUTH_UNAVAILABLE once attempts run out. */
type Attempt =
  | { readonly outcome: 'answer'; readonly verdict: Verdict }
  | { readonly outcome: 'retry'; readonly problem: string }
  | { readonly outcome: 'give_up'; readonly problem: string };

export function createRemoteVerifier(config: AuthConfig, deps: RemoteVerifierDeps): Verifier {
  if (!config.verify_url) throw new Error('auth: remote mode needs verify_url');
  const url = new URL(config.verify_url);
  const path = url.pathname + url.search;
  const budgetMs = verificationBudgetMs(config.timeout, config.retries);
  const claimNames: ClaimNames = {
    userId: unique(['user_id', config.user_id_claim]),
    roles: unique([config.roles_claim, 'roles']),
  };
  const pool = new Pool(url.origin, {
    connections: MAX_CONNECTIONS,
    pipelining: 1,
    keepAliveTimeout: KEEP_ALIVE_MS,
    keepAliveMaxTimeout: KEEP_ALIVE_MS,
    headersTimeout: config.timeout,
    bodyTimeout: config.timeout,
    // Certificates are always verified: there is no option to skip it.
    connect: httpConnector(deps.tls, config.timeout),
  });
  const guard = createCallGuard(config, deps.clock, deps.logger, 'auth service');
  // Aborted by destroy(): ends backoff sleeps and in-flight attempts.
  const lifetime = new AbortController();

  async function attempt(request: VerifyRequest, timeoutMs: number): Promise<Attempt> {
    const headers: Record<string, string> = {
      authorization: request.authorization,
      accept: 'application/json',
    };
    // The data plane validates request ids; checked again because undici throws on a bad value.
    if (request.requestId !== undefined && isSafeHeaderValue(request.requestId)) {
      headers['x-request-id'] = request.requestId;
    }
    const signal = AbortSignal.any([lifetime.signal, AbortSignal.timeout(timeoutMs)]);
    let response: Dispatcher.ResponseData;
    try {
      response = await pool.request({ method: 'GET', path, headers, signal });
    } catch (error) {
      return { outcome: 'retry', problem: describe(error) };
    }
    const status = response.statusCode;
    if (status < 200 || status >= 300) {
      await response.body.dump().catch(() => undefined);
      if (status === 401 || status === 403)
        return { outcome: 'answer', verdict: { valid: false, cacheable: true, reason: 'rejected' } };
      if (status >= 500) return { outcome: 'retry', problem: `status ${status}` };
      return { outcome: 'give_up', problem: `unexpected status ${status}` };
    }
    let text: string | undefined;
    try {
      text = await readLimited(response.body, MAX_ANSWER_BYTES);
    } catch (error) {
      // The answer broke off mid-body: a transport failure like any other.
      return { outcome: 'retry', problem: `answer body: ${describe(error)}` };
    }
    if (text === undefined)
      return { outcome: 'give_up', problem: `answer larger than ${MAX_ANSWER_BYTES} bytes` };
    return interpret(text);
  }

  function interpret(text: string): Attempt {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return { outcome: 'give_up', problem: '2xx answer is not JSON' };
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return { outcome: 'give_up', problem: '2xx answer is not a JSON object' };
    }
    const claims = body as Record<string, unknown>;
    const exp = claims.exp;
    if (exp !== undefined && exp !== null && (typeof exp !== 'number' || !Number.isFinite(exp))) {
      return { outcome: 'give_up', problem: '2xx answer has a non-numeric exp' };
    }
    const result = identityFromClaims(claims, claimNames);
    if (!result.ok) return { outcome: 'give_up', problem: `2xx answer: ${result.problem}` };
    const expiresAtMs = typeof exp === 'number' ? exp * 1000 : undefined;
    return { outcome: 'answer', verdict: { valid: true, identity: result.identity, expiresAtMs } };
  }

  async function verify(request: VerifyRequest): Promise<Verdict> {
    const deadline = performance.now() + budgetMs;
    let problem = 'no attempt made';
    for (let retry = 0; retry <= config.retries; retry++) {
      if (retry > 0) {
        const delay = Math.floor(backoffDelay(retry, AUTH_RETRY_BACKOFF, deps.random));
        if (performance.now() + delay >= deadline) break;
        try {
          await sleep(delay, undefined, { signal: lifetime.signal });
        } catch {
          throw new AuthUnavailableError('authenticator destroyed', { refused: true });
        }
      }
      const remainingMs = Math.floor(deadline - performance.now());
      if (remainingMs <= 0) break;
      if (lifetime.signal.aborted)
        throw new AuthUnavailableError('authenticator destroyed', { refused: true });
      const admission = guard.acquire();
      if (!admission.admitted) {
        deps.onCall?.(admission.refusal);
        throw new AuthUnavailableError(admission.refusal, {
          refused: true,
          retryAfterMs: admission.retryAfterMs,
        });
      }
      const result = await attempt(request, Math.min(config.timeout, remainingMs));
      if (lifetime.signal.aborted) {
        guard.release(admission.permit);
        throw new AuthUnavailableError('authenticator destroyed', { refused: true });
      }
      guard.record(admission.permit, result.outcome !== 'retry');
      deps.onCall?.(callResult(result));
      if (result.outcome === 'answer') return result.verdict;
      if (result.outcome === 'give_up') throw new AuthUnavailableError(result.problem);
      problem = `${result.problem} after ${retry + 1} attempt(s)`;
    }
    throw new AuthUnavailableError(problem);
  }

  return {
    verify,
    breakerState: () => guard.breakerState,
    // Both may be called, in either order: closing a destroyed pool only rejects.
    close: () => pool.close().catch(() => undefined),
    destroy: async () => {
      lifetime.abort();
      await pool.destroy();
    },
  };
}

function callResult(attempt: Attempt): VerifyCallResult {
  if (attempt.outcome === 'answer') return attempt.verdict.valid ? 'valid' : 'invalid';
  return attempt.outcome === 'retry' ? 'error' : 'unusable';
}

/** Reads at most `limit` bytes of a body; undefined (and the socket dropped) when it is longer. */
async function readLimited(
  body: Dispatcher.ResponseData['body'],
  limit: number,
): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      body.destroy();
      return undefined;
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${error.name} ${code}` : `${error.name}: ${error.message}`;
  }
  return String(error);
}

function unique(names: string[]): string[] {
  return [...new Set(names)];
}
