// Sends one request to an instance of its service and streams the answer back.
// Failover: a request that never reached an instance is retried once on another
// (any method: nothing was sent); an idempotent request without a body is also
// retried after a reset before response headers. Nothing is retried once the
// response has started, and a body that was streamed is never replayed.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import type { Dispatcher } from 'undici';
import { GatewayError } from '../errors.ts';
import type { UpstreamInstance } from '../upstream/instance.ts';
import type { Lease, ServicePool } from '../upstream/service-pool.ts';
import { BodyLimitStream } from './body-limit.ts';
import { classifyFailure, type FailureKind, toGatewayError } from './error-map.ts';
import { clientResponseHeaders } from './headers.ts';

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
): Promise<void> {
  const contentLength = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (contentLength !== undefined && Number(contentLength) > target.bodyLimit) {
    throw new GatewayError('PAYLOAD_TOO_LARGE');
  }
  const hasBody = chunked || (contentLength !== undefined && contentLength !== '0');
  const body = !hasBody ? null : chunked ? limitBody(req, target.bodyLimit) : req;
  const replayable = !hasBody && IDEMPOTENT.has(req.method!);

  const abort = new AbortController();
  const onClientGone = () => {
    if (!res.writableFinished) abort.abort();
  };
  res.once('close', onClientGone);

  let excluded: Set<UpstreamInstance> | undefined;
  let lastError: GatewayError | undefined;
  for (let attempt = 1; ; attempt++) {
    let lease: Lease;
    try {
      lease = target.pool.acquire(excluded);
    } catch (error) {
      // The retry found no other instance: the first failure is the answer.
      if (attempt > 1 && outcome.instance !== undefined) throw lastError!;
      throw error;
    }
    outcome.attempts = attempt;
    outcome.instance = lease.instance.origin;
    const sentAt = performance.now();
    // undici arms headersTimeout on coarse timers (about 1 s resolution): keep it as a
    // backstop and enforce the configured deadline with a native timer.
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, target.headersTimeout);
    let response: Dispatcher.ResponseData;
    try {
      response = await lease.instance.pool.request({
        method: req.method as Dispatcher.HttpMethod,
        path: lease.instance.basePath === '' ? path : lease.instance.basePath + path,
        headers,
        body,
        headersTimeout: target.headersTimeout + 1000,
        bodyTimeout: target.bodyTimeout,
        signal: abort.signal,
      });
    } catch (error) {
      clearTimeout(deadline);
      const kind: FailureKind = timedOut ? 'timeout' : abort.signal.aborted ? 'client' : classifyFailure(error);
      lease.release(kind === 'client' ? 'neutral' : kind === 'unreachable' ? 'unreachable' : 'failure');
      if (kind === 'client' && !timedOut && abort.signal.aborted) return;
      const retry = attempt === 1 && (kind === 'unreachable' || (kind === 'reset' && replayable));
      lastError = toGatewayError(error, kind);
      if (retry) {
        excluded ??= new Set();
        excluded.add(lease.instance);
        continue;
      }
      throw lastError;
    }
    clearTimeout(deadline);
    outcome.upstreamMs = performance.now() - sentAt;
    const failed = response.statusCode >= 500;
    const responseHeaders = clientResponseHeaders(response.headers);
    if (responseHeaders['content-length'] !== undefined) outcome.responseBytes = Number(responseHeaders['content-length']);
    Object.assign(responseHeaders, extraResponseHeaders);
    res.writeHead(response.statusCode, responseHeaders);
    await new Promise<void>((resolve) => {
      pipeline(response.body, res, (error) => {
        // A body that broke mid-way must not look complete: the client connection is cut.
        if (error) res.destroy();
        lease.release(abort.signal.aborted ? 'neutral' : error || failed ? 'failure' : 'success');
        resolve();
      });
    });
    return;
  }
}

function limitBody(req: IncomingMessage, limit: number): BodyLimitStream {
  const limited = new BodyLimitStream(limit);
  pipeline(req, limited, () => {});
  return limited;
}
