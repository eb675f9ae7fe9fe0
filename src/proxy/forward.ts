// Sends one request to an instance of its service and streams the answer back.
// Failover: a request that never reached an instance is retried once on another
// (any method: nothing was sent); an idempotent request without a body is also
// retried after a reset before response headers. Nothing is retried once the
// response has started, and a body that was streamed is never replayed.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import type { Dispatcher } from 'undici';
import { GatewayError } from '../errors.ts';
import type { RequestSpan } from '../observability/tracing.ts';
import type { UpstreamInstance } from '../upstream/instance.ts';
import type { Lease, ServicePool } from '../upstream/service-pool.ts';
import { BodyLimitStream } from './body-limit.ts';
import { classifyFailure, type FailureKind, toGatewayError } from './error-map.ts';
import { ClientGone, Exchange, HeadersDeadline } from './exchange.ts';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

export interface ForwardTarget {
  readonly pool: ServicePool;
  /** Deadline for the upstream's response headers (the service `timeout`). */
  readonly headersTimeout: number;
  /** Longest silence while the response body streams. */
  readonly bodyTimeout: number;
  readonly bodyLimit: number;
}

export interface ForwardOutcome {
  /** The instance that answered (or last failed). */
  instance: string | undefined;
  /** Milliseconds from sending to the upstream's response headers. */
  upstreamMs: number | undefined;
  attempts: number;
  /** The upstream's Content-Length, when it sent one. */
  responseBytes: number | undefined;
}

interface AttemptResult {
  readonly error: Error | undefined;
  readonly afterStart: boolean;
  readonly status: number;
}

/** Answers the client from the upstream; throws GatewayError when no response could be started. */
export async function forward(
  req: IncomingMessage,
  res: ServerResponse,
  target: ForwardTarget,
  /** Path and query as the instance should see them, before its base path. */
  path: string,
  headers: string[],
  extraResponseHeaders: Readonly<Record<string, string>>,
  outcome: ForwardOutcome,
  /** The request's server span when traced: each attempt gets a child span and names it upstream. */
  span?: RequestSpan,
): Promise<void> {
  const contentLength = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (contentLength !== undefined && Number(contentLength) > target.bodyLimit) {
    throw new GatewayError('PAYLOAD_TOO_LARGE');
  }
  const hasBody = chunked || (contentLength !== undefined && contentLength !== '0');
  const body = !hasBody ? null : chunked ? limitBody(req, target.bodyLimit) : req;
  const replayable = !hasBody && IDEMPOTENT.has(req.method!);

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
    const attemptSpan = span?.attempt(req.method!, lease.instance.origin, attempt);
    const result = await attemptOnce(
      lease.instance,
      req,
      res,
      target,
      path,
      attemptSpan ? attemptSpan.headers(headers) : headers,
      body,
      extraResponseHeaders,
      outcome,
    );
    const { error } = result;
    attemptSpan?.end(result.status, error);
    if (error === undefined) {
      lease.release(result.status >= 500 ? 'failure' : 'success');
      return;
    }
    if (result.afterStart) {
      // The exchange already cut the client connection: there is nobody left to answer.
      lease.release(error instanceof ClientGone ? 'neutral' : 'failure');
      return;
    }
    const kind: FailureKind =
      error instanceof HeadersDeadline
        ? 'timeout'
        : error instanceof ClientGone
          ? 'client'
          : classifyFailure(error);
    lease.release(kind === 'client' ? 'neutral' : kind === 'unreachable' ? 'unreachable' : 'failure');
    if (error instanceof ClientGone) return;
    lastError = toGatewayError(error, kind);
    const retry = attempt === 1 && (kind === 'unreachable' || (kind === 'reset' && replayable));
    if (!retry) throw lastError;
    excluded ??= new Set();
    excluded.add(lease.instance);
  }
}

function attemptOnce(
  instance: UpstreamInstance,
  req: IncomingMessage,
  res: ServerResponse,
  target: ForwardTarget,
  path: string,
  headers: string[],
  body: IncomingMessage | BodyLimitStream | null,
  extraResponseHeaders: Readonly<Record<string, string>>,
  outcome: ForwardOutcome,
): Promise<AttemptResult> {
  return new Promise((resolve) => {
    const sentAt = performance.now();
    let status = 0;
    const exchange = new Exchange(res, extraResponseHeaders, target.headersTimeout, {
      started(statusCode, contentLength) {
        status = statusCode;
        outcome.upstreamMs = performance.now() - sentAt;
        outcome.responseBytes = contentLength;
      },
      finished(error, afterStart) {
        res.off('close', onClientGone);
        resolve({ error, afterStart, status });
      },
    });
    const onClientGone = () => exchange.abort(new ClientGone());
    res.once('close', onClientGone);
    // Dispatched in the same tick as the lease: a reload may close a replaced pool right after.
    instance.pool.dispatch(
      {
        method: req.method as Dispatcher.HttpMethod,
        path: instance.basePath === '' ? path : instance.basePath + path,
        headers,
        body,
        headersTimeout: target.headersTimeout + 1000,
        bodyTimeout: target.bodyTimeout,
      },
      exchange,
    );
  });
}

function limitBody(req: IncomingMessage, limit: number): BodyLimitStream {
  const limited = new BodyLimitStream(limit);
  pipeline(req, limited, () => {});
  return limited;
}
