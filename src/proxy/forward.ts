// Sends one request to an instance of its service and streams the answer back.
// Failover: a request that never reached an instance is retried once on another
// (any method: nothing was sent); an idempotent request without a body is also
// retried after a reset before response headers. Nothing is retried once the
// response has started, and a body that was streamed is never replayed.
// A route with `retries` may retry more (up to `attempts`, each on another instance,
// after a jittered backoff): the same safe cases, plus an upstream 503 carrying
// Retry-After on an idempotent bodiless request; every retry that could add load to
// an instance is taken from the route's budget. Nothing-reached-the-instance retries
// are not: they add no load anywhere.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import type { Dispatcher } from 'undici';
import { type BackoffPolicy, backoffDelay } from '../backoff.ts';
import { GatewayError } from '../errors.ts';
import type { RequestSpan } from '../observability/tracing.ts';
import type { UpstreamInstance } from '../upstream/instance.ts';
import type { RetryBudget } from '../upstream/retry-budget.ts';
import type { Lease, ServicePool } from '../upstream/service-pool.ts';
import { BodyLimitStream } from './body-limit.ts';
import { classifyFailure, type FailureKind, toGatewayError } from './error-map.ts';
import { ClientGone, Exchange, type ExchangeListener, HeadersDeadline } from './exchange.ts';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** Backoff between a route's retries: 25 ms doubling to 250 ms, half of it jitter. */
const RETRY_BACKOFF: BackoffPolicy = { baseMs: 25, maxMs: 250 };

/** A route's `retries`: how many, and the budget they are taken from. */
export interface RouteRetries {
  readonly attempts: number;
  readonly budget: RetryBudget;
}

/** An upstream 503 with Retry-After that the forwarder held back to retry elsewhere. */
class RetryableAnswer extends Error {
  readonly retryAfter: string;
  constructor(retryAfter: string) {
    super('the upstream answered 503 with Retry-After');
    this.name = 'RetryableAnswer';
    this.retryAfter = retryAfter;
  }
}

export interface ForwardTarget {
  readonly pool: ServicePool;
  /** The service `timeout`: bounds the wait for a connection, then the wait for response headers. */
  readonly headersTimeout: number;
  /** Longest silence while the response body streams. */
  readonly bodyTimeout: number;
  readonly bodyLimit: number;
  /** The route's retries; null: only the one failover when nothing reached an instance. */
  readonly retries: RouteRetries | null;
  /** `pass_host`: the client's Host goes upstream instead of the instance's. */
  readonly passHost: boolean;
}

/** The request as the instance should see it, and what the gateway adds to the answer. */
export interface UpstreamRequest {
  /** Path and query as the instance should see them, before its base path. */
  readonly path: string;
  readonly headers: string[];
  readonly responseHeaders: Readonly<Record<string, string>>;
  /** True while the gateway drains: answers close their connection. */
  readonly closing: () => boolean;
}

export interface ForwardOutcome {
  /** The instance that answered (or last failed). */
  instance: string | undefined;
  /** Milliseconds from sending to the upstream's response headers. */
  upstreamMs: number | undefined;
  attempts: number;
  /** The upstream's Content-Length, when it sent one. */
  responseBytes: number | undefined;
  /** The service that was asked (a split route chooses one per request). */
  service?: string;
  /** A retry was due but the route's retry budget was spent. */
  retryRefused?: boolean;
  /** The upstream broke off its answer after the client got part of it: the upstream's fault (502). */
  brokenAfterStart?: Error;
}

interface AttemptResult {
  readonly error: Error | undefined;
  readonly afterStart: boolean;
  readonly committed: boolean;
  readonly status: number;
}

/** Answers the client from the upstream; throws GatewayError when no response could be started. */
export async function forward(
  req: IncomingMessage,
  res: ServerResponse,
  target: ForwardTarget,
  upstream: UpstreamRequest,
  outcome: ForwardOutcome,
  /** The request's server span when traced: each attempt gets a child span and names it upstream. */
  span?: RequestSpan,
  /** The route's response_headers transform, bound to this request. */
  editResponseHeaders?: (headers: string[]) => void,
): Promise<void> {
  const contentLength = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (contentLength !== undefined && Number(contentLength) > target.bodyLimit) {
    throw new GatewayError('PAYLOAD_TOO_LARGE');
  }
  // The public server hands `Expect: 100-continue` requests over without answering them
  // (checkContinue): route, policies and the size check have passed, so invite the body now.
  if (expectsContinue(req)) res.writeContinue();
  const hasBody = chunked || (contentLength !== undefined && contentLength !== '0');
  const body = !hasBody ? null : chunked ? limitBody(req, target.bodyLimit) : req;
  const replayable = !hasBody && IDEMPOTENT.has(req.method!);
  const { retries } = target;
  const maxRetries = retries ? retries.attempts : 1;
  retries?.budget.request();
  outcome.service = target.pool.name;

  let excluded: Set<UpstreamInstance> | undefined;
  let lastError: GatewayError | undefined;
  for (let attempt = 1; ; attempt++) {
    // The client may have left while a policy (auth, Redis) was deciding: send nothing.
    if (res.destroyed) return;
    let lease: Lease;
    try {
      lease = target.pool.acquire(excluded);
    } catch (error) {
      // The retry found no other instance: the first failure is the answer.
      if (lastError !== undefined) throw lastError;
      throw error;
    }
    outcome.attempts = attempt;
    outcome.instance = lease.instance.origin;
    // Held back only when a retry will follow: the budget is asked here, before the answer is dropped.
    const holdBack =
      retries !== null && replayable && attempt <= maxRetries && hasAnother(target, excluded, lease.instance)
        ? (status: number, rawHeaders: Buffer[]) => {
            if (status !== 503) return undefined;
            const retryAfter = headerValue(rawHeaders, 'retry-after');
            if (retryAfter === undefined) return undefined;
            if (!retries.budget.tryRetry()) {
              outcome.retryRefused = true;
              return undefined;
            }
            return new RetryableAnswer(retryAfter);
          }
        : undefined;
    const attemptSpan = span?.attempt(req.method!, lease.instance.origin, attempt);
    const result = await attemptOnce(
      lease.instance,
      req,
      res,
      target,
      attemptSpan ? { ...upstream, headers: attemptSpan.headers(upstream.headers) } : upstream,
      body,
      outcome,
      holdBack,
      editResponseHeaders,
    );
    const { error } = result;
    attemptSpan?.end(result.status, error);
    if (error === undefined) {
      lease.release(result.status >= 500 ? 'failure' : 'success');
      return;
    }
    if (error instanceof ClientGone) {
      lease.release('neutral');
      return;
    }
    if (result.committed) {
      // The exchange already cut the client connection: there is nobody left to answer.
      lease.release('failure');
      outcome.brokenAfterStart = error;
      return;
    }
    const held = error instanceof RetryableAnswer;
    const kind: FailureKind =
      error instanceof HeadersDeadline ? 'timeout' : held ? 'garbled' : classifyFailure(error);
    lease.release(kind === 'client' ? 'neutral' : kind === 'unreachable' ? 'unreachable' : 'failure');
    // Headers arrived but nothing reached the client: it can still get a clean 502.
    if (result.afterStart) throw new GatewayError('BAD_GATEWAY', { cause: error });
    lastError = held
      ? new GatewayError('UPSTREAM_UNAVAILABLE', { headers: { 'retry-after': error.retryAfter } })
      : toGatewayError(error, kind);
    const safe = held || kind === 'unreachable' || (kind === 'reset' && replayable);
    if (!safe || attempt > maxRetries) throw lastError;
    // A held-back 503 took its retry from the budget already; nothing-reached retries cost none,
    // and a retry with no instance left to try would spend the budget for nothing.
    if (retries !== null && !held && kind !== 'unreachable') {
      if (!hasAnother(target, excluded, lease.instance)) throw lastError;
      if (!retries.budget.tryRetry()) {
        outcome.retryRefused = true;
        throw lastError;
      }
    }
    excluded ??= new Set();
    excluded.add(lease.instance);
    if (retries !== null) await sleep(backoffDelay(attempt, RETRY_BACKOFF, Math.random));
  }
}

/** Whether the pool holds an instance not yet tried by this request (besides `current`). */
function hasAnother(
  target: ForwardTarget,
  excluded: ReadonlySet<UpstreamInstance> | undefined,
  current?: UpstreamInstance,
): boolean {
  const tried = (excluded?.size ?? 0) + (current !== undefined && !excluded?.has(current) ? 1 : 0);
  return target.pool.instances.length > tried;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function headerValue(rawHeaders: Buffer[], lowerName: string): string | undefined {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (
      rawHeaders[i].length === lowerName.length &&
      rawHeaders[i].toString('latin1').toLowerCase() === lowerName
    ) {
      return rawHeaders[i + 1].toString('latin1');
    }
  }
  return undefined;
}

function attemptOnce(
  instance: UpstreamInstance,
  req: IncomingMessage,
  res: ServerResponse,
  target: ForwardTarget,
  upstream: UpstreamRequest,
  body: IncomingMessage | BodyLimitStream | null,
  outcome: ForwardOutcome,
  holdBack: ExchangeListener['holdBack'],
  editHeaders: ExchangeListener['editHeaders'],
): Promise<AttemptResult> {
  return new Promise((resolve) => {
    const sentAt = performance.now();
    let status = 0;
    const exchange = new Exchange(
      res,
      {
        extraHeaders: upstream.responseHeaders,
        timeoutMs: target.headersTimeout,
        drainTimeoutMs: target.bodyTimeout,
        closing: upstream.closing,
      },
      {
        started(statusCode, contentLength) {
          status = statusCode;
          outcome.upstreamMs = performance.now() - sentAt;
          outcome.responseBytes = contentLength;
        },
        finished(error, afterStart, committed) {
          res.off('close', onClientGone);
          resolve({ error, afterStart, committed, status });
        },
        holdBack,
        editHeaders,
      },
    );
    const onClientGone = () => exchange.abort(new ClientGone());
    res.once('close', onClientGone);
    // Dispatched in the same tick as the lease: a reload may close a replaced pool right after.
    instance.pool.dispatch(
      {
        method: req.method as Dispatcher.HttpMethod,
        path: instance.basePath === '' ? upstream.path : instance.basePath + upstream.path,
        headers: upstream.headers,
        body,
        // undici's own header timer would run while the client is still uploading and
        // blame the instance for a slow client: the exchange keeps the deadline instead.
        headersTimeout: 0,
        bodyTimeout: target.bodyTimeout,
      },
      exchange,
    );
  });
}

/**
 * Node hands these over through 'checkContinue' without a 100 Continue (see
 * server/public-server.ts, tls-listener.ts, h2c.ts): HTTP/1.1 and h2 (HTTP/1.0 has no 1xx).
 */
function expectsContinue(req: IncomingMessage): boolean {
  const expect = req.headers.expect;
  return (
    expect !== undefined &&
    (req.httpVersionMajor === 2 || (req.httpVersionMajor === 1 && req.httpVersionMinor === 1)) &&
    /(?:^|\W)100-continue(?:$|\W)/i.test(expect)
  );
}

function limitBody(req: IncomingMessage, limit: number): BodyLimitStream {
  const limited = new BodyLimitStream(limit);
  pipeline(req, limited, () => {});
  return limited;
}
