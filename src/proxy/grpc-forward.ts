// A gRPC call proxied end to end over the instance's HTTP/2 session: the client's
// messages are piped to the upstream stream and the answer's back, each way with
// backpressure (pipe / write + drain), so a long stream holds a few frames in memory,
// not the stream. Trailers (grpc-status, grpc-message, custom ones) are handed on as
// trailers; a trailers-only answer stays trailers-only.
//
// Deadline: the client's grpc-timeout bounds the whole call, counted from the moment
// the request arrived; the upstream gets what is left of it. Without one, the service
// timeout bounds the wait for response headers, as on any route.
//
// Outcome for the breaker: UNAVAILABLE from the upstream and a broken stream are
// failures; every other status (NOT_FOUND, INVALID_ARGUMENT…) is the application
// speaking and counts as a success. A call is retried on another instance only when
// no session could be opened: nothing reached the first one. A stream the instance
// refused unprocessed (REFUSED_STREAM, as in the race with its GOAWAY: RFC 9113 6.8) is
// sent again once, on a new session, when the request bytes already sent were few
// enough to keep (REPLAY_LIMIT).
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import {
  type ClientHttp2Stream,
  constants,
  type IncomingHttpHeaders as H2Headers,
  type OutgoingHttpHeaders as H2OutgoingHeaders,
} from 'node:http2';
import { GatewayError } from '../errors.ts';
import {
  encodeGrpcMessage,
  formatGrpcTimeout,
  GRPC_DEADLINE_EXCEEDED,
  GRPC_UNAVAILABLE,
  parseGrpcTimeout,
} from '../grpc/status.ts';
import { SessionUnavailable } from '../upstream/h2-session.ts';
import type { UpstreamInstance } from '../upstream/instance.ts';
import type { Lease, LeaseOutcome } from '../upstream/service-pool.ts';
import type { ForwardOutcome, ForwardTarget } from './forward.ts';

export interface GrpcOutcome extends ForwardOutcome {
  /** The grpc-status the client got from the upstream (a gateway error sets it elsewhere). */
  grpcStatus?: number;
}

export interface GrpcCall {
  /** Path as the instance should see it, before its base path: /package.Service/Method. */
  readonly path: string;
  /** Flat [name, value, …] list from the ingress (hygiene done, gateway headers added). */
  readonly headers: readonly string[];
  /** Headers the gateway adds to the answer (X-Request-ID, rate-limit headers). */
  readonly responseHeaders: Readonly<Record<string, string>>;
  /** performance.now() when the request arrived: grpc-timeout counts from there. */
  readonly startedAt: number;
}

/** Connection-specific fields HTTP/2 forbids (RFC 9113 8.2.2), and those set as pseudo-headers. */
const NOT_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'host',
  'te',
  'grpc-timeout',
  'content-length',
]);

/** Request bytes kept until the answer starts, so a refused stream can be sent again. */
const REPLAY_LIMIT = 64 * 1024;

/** Answer fields the client response must not copy from the upstream. */
const NOT_RETURNED = new Set([...NOT_FORWARDED, 'x-request-id', 'date']);

/** Proxies one gRPC call; throws GatewayError when no answer could be started. */
export async function forwardGrpc(
  req: IncomingMessage,
  res: ServerResponse,
  target: ForwardTarget,
  call: GrpcCall,
  outcome: GrpcOutcome,
): Promise<void> {
  const timeout = parseGrpcTimeout(single(req.headers['grpc-timeout']));
  if (timeout === null) {
    throw new GatewayError('BAD_REQUEST', { message: 'grpc-timeout is not a valid timeout' });
  }
  const deadlineAt = timeout === undefined ? undefined : call.startedAt + timeout;
  outcome.service = target.pool.name;
  let excluded: Set<UpstreamInstance> | undefined;
  let replay: readonly Buffer[] = [];
  for (let attempt = 1; attempt <= 2; attempt++) {
    if (res.destroyed) return;
    if (deadlineAt !== undefined && performance.now() >= deadlineAt) {
      throw new GatewayError('UPSTREAM_TIMEOUT', { message: 'The call deadline (grpc-timeout) passed' });
    }
    let lease: Lease;
    try {
      lease = target.pool.acquire(excluded);
    } catch (error) {
      if (excluded !== undefined)
        throw new GatewayError('BAD_GATEWAY', { message: 'No instance could be reached' });
      throw error;
    }
    outcome.attempts = attempt;
    outcome.instance = lease.instance.origin;
    let stream: ClientHttp2Stream;
    try {
      const session = await lease.instance.h2.session();
      if (res.destroyed) {
        lease.release('neutral');
        return;
      }
      stream = session.request(upstreamHeaders(lease.instance, target, call, deadlineAt), {
        endStream: false,
      });
    } catch (error) {
      // Nothing reached the instance: out of rotation, and the call tries another one once.
      lease.release(error instanceof SessionUnavailable ? 'unreachable' : 'failure');
      excluded ??= new Set();
      excluded.add(lease.instance);
      continue;
    }
    for (const chunk of replay) stream.write(chunk);
    const result = await relay(req, res, stream, target, call, deadlineAt, outcome, replay);
    lease.release(result.lease);
    if (result.refused && attempt === 1) {
      // Unprocessed: sent again to the next instance the pool gives (the same one over the
      // new session its GOAWAY made us open, or another), the kept bytes first.
      replay = result.refused;
      continue;
    }
    if (result.error) throw result.error;
    return;
  }
  throw new GatewayError('BAD_GATEWAY', { message: 'No instance could be reached' });
}

interface RelayResult {
  readonly lease: LeaseOutcome;
  /** Set when nothing was answered yet: the data plane sends it as a gRPC status. */
  readonly error?: GatewayError;
  /** The instance refused the stream unprocessed; these request bytes were sent and may be sent again. */
  readonly refused?: readonly Buffer[];
}

function relay(
  req: IncomingMessage,
  res: ServerResponse,
  stream: ClientHttp2Stream,
  target: ForwardTarget,
  call: GrpcCall,
  deadlineAt: number | undefined,
  outcome: GrpcOutcome,
  replayed: readonly Buffer[],
): Promise<RelayResult> {
  return new Promise((resolve) => {
    const sentAt = performance.now();
    let done = false;
    let trailers: H2Headers | undefined;
    // What was sent of the request, kept until the answer starts or it grows too big.
    let sent: Buffer[] | undefined = [...replayed];
    let sentBytes = sent.reduce((sum, chunk) => sum + chunk.length, 0);
    const keep = (chunk: Buffer) => {
      if (sent === undefined) return;
      sentBytes += chunk.length;
      if (sentBytes > REPLAY_LIMIT) {
        sent = undefined;
        req.off('data', keep);
      } else sent.push(chunk);
    };
    const forget = () => {
      sent = undefined;
      req.off('data', keep);
    };
    const finish = (result: RelayResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      res.off('close', onClientClose);
      req.off('data', keep);
      req.unpipe(stream);
      resolve(result);
    };

    // The client's deadline bounds the whole call; else the service timeout, the headers.
    const byClient = deadlineAt !== undefined;
    const wait = byClient ? Math.max(0, deadlineAt - performance.now()) : target.headersTimeout;
    const timer = setTimeout(() => {
      stream.close(constants.NGHTTP2_CANCEL);
      const message = byClient ? 'The call deadline (grpc-timeout) passed' : 'The service timeout passed';
      // A client's own deadline says nothing about the instance; the service timeout does.
      const lease: LeaseOutcome = byClient ? 'neutral' : 'failure';
      if (!res.headersSent) {
        finish({ lease, error: new GatewayError('UPSTREAM_TIMEOUT', { message }) });
        return;
      }
      outcome.grpcStatus = GRPC_DEADLINE_EXCEEDED;
      res.addTrailers({
        'grpc-status': String(GRPC_DEADLINE_EXCEEDED),
        'grpc-message': encodeGrpcMessage(message),
      });
      res.end();
      finish({ lease });
    }, wait);

    const onClientClose = () => {
      if (res.writableFinished) return;
      stream.close(constants.NGHTTP2_CANCEL);
      finish({ lease: 'neutral' });
    };
    res.once('close', onClientClose);

    // The client's messages, with backpressure; a stream the client ends ends upstream.
    req.on('data', keep);
    req.pipe(stream);

    stream.on('response', (headers, flags) => {
      forget();
      outcome.upstreamMs = performance.now() - sentAt;
      const status = Number(headers[':status']);
      const head = clientHeaders(headers, call.responseHeaders);
      if (flags & constants.NGHTTP2_FLAG_END_STREAM) {
        // Trailers-only: one HEADERS frame, so set the fields and end without writeHead.
        outcome.grpcStatus = grpcStatusOf(headers);
        res.statusCode = status;
        for (const [name, value] of Object.entries(head)) res.setHeader(name, value!);
        res.end();
        finish({ lease: leaseFor(outcome.grpcStatus) });
        return;
      }
      if (!byClient) clearTimeout(timer);
      res.writeHead(status, head);
    });
    stream.on('data', (chunk: Buffer) => {
      if (!res.write(chunk)) {
        stream.pause();
        res.once('drain', () => stream.resume());
      }
    });
    stream.on('trailers', (received) => {
      trailers = received;
    });
    stream.on('end', () => {
      if (done) return;
      if (!res.headersSent) return; // trailers-only, answered above
      outcome.grpcStatus = trailers ? grpcStatusOf(trailers) : undefined;
      if (trailers) res.addTrailers(trailerFields(trailers));
      res.end();
      finish({ lease: leaseFor(outcome.grpcStatus) });
    });
    stream.on('close', () => {
      if (done) return;
      // Refused unprocessed before any answer: the caller may send it again elsewhere.
      if (!res.headersSent && stream.rstCode === constants.NGHTTP2_REFUSED_STREAM && sent !== undefined) {
        finish({ lease: 'neutral', refused: sent });
        return;
      }
      // Closed without a proper end: reset by the instance, or its session died.
      const broken = new GatewayError('BAD_GATEWAY', {
        message: `The upstream stream broke (HTTP/2 code ${stream.rstCode})`,
      });
      if (!res.headersSent) {
        outcome.grpcStatus = undefined;
        finish({ lease: 'failure', error: broken });
        return;
      }
      outcome.brokenAfterStart = broken;
      res.destroy();
      finish({ lease: 'failure' });
    });
    stream.on('error', () => {
      // Reported through 'close' with its rstCode; the listener keeps it from being thrown.
    });
  });
}

function upstreamHeaders(
  instance: UpstreamInstance,
  target: ForwardTarget,
  call: GrpcCall,
  deadlineAt: number | undefined,
): H2OutgoingHeaders {
  const headers: H2OutgoingHeaders = {
    [constants.HTTP2_HEADER_METHOD]: 'POST',
    [constants.HTTP2_HEADER_PATH]: instance.basePath + call.path,
    te: 'trailers',
  };
  let host: string | undefined;
  for (let i = 0; i < call.headers.length; i += 2) {
    const name = call.headers[i].toLowerCase();
    if (name === 'host') host = call.headers[i + 1];
    if (NOT_FORWARDED.has(name)) continue;
    const value = call.headers[i + 1];
    const existing = headers[name];
    headers[name] =
      existing === undefined
        ? value
        : Array.isArray(existing)
          ? [...existing, value]
          : [String(existing), value];
  }
  headers[constants.HTTP2_HEADER_AUTHORITY] =
    target.passHost && host !== undefined ? host : new URL(instance.origin).host;
  // What is left of the client's deadline, so the instance gives up when the client will.
  if (deadlineAt !== undefined) headers['grpc-timeout'] = formatGrpcTimeout(deadlineAt - performance.now());
  return headers;
}

function clientHeaders(upstream: H2Headers, own: Readonly<Record<string, string>>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (name.charCodeAt(0) === 58 /* : */ || NOT_RETURNED.has(name) || value === undefined) continue;
    out[name] = value;
  }
  return { ...out, ...own };
}

function trailerFields(trailers: H2Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(trailers)) {
    if (name.charCodeAt(0) === 58 || value === undefined) continue;
    out[name] = value;
  }
  return out;
}

function grpcStatusOf(fields: H2Headers): number | undefined {
  const value = fields['grpc-status'];
  const status = Number(Array.isArray(value) ? value[0] : value);
  return Number.isInteger(status) ? status : undefined;
}

/** UNAVAILABLE, or no status at all, says the instance failed; any other status is the application's. */
function leaseFor(grpcStatus: number | undefined): LeaseOutcome {
  return grpcStatus === undefined || grpcStatus === GRPC_UNAVAILABLE ? 'failure' : 'success';
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
