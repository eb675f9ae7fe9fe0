// The public listener's request handler: ingress, route match, policy chain,
// forwarding, then one access-log line and the metrics. Every failure becomes a
// GatewayError answered by sendError; nothing here may throw past the handler.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { isGatewayError } from '../errors.ts';
import { grpcStatusFor, isGrpcContentType } from '../grpc/status.ts';
import type { AccessLog } from '../observability/access-log.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { RequestFailureLog } from '../observability/request-failures.ts';
import type { RequestTracer } from '../observability/tracing.ts';
import { forward } from '../proxy/forward.ts';
import { forwardGrpc, type GrpcOutcome } from '../proxy/grpc-forward.ts';
import type { Runtime } from '../runtime/build.ts';
import type { RuntimeHolder } from '../runtime/holder.ts';
import { beginRequest, headersForUpstream, routeRequest, runPolicies } from './ingress.ts';
import { refuseRequestHead } from './request-head.ts';
import type { RequestState } from './request-state.ts';
import { sendError, sendJson } from './send.ts';

export interface Lifecycle {
  /** True once the first config is serving and until draining starts. */
  readonly ready: boolean;
  readonly draining: boolean;
}

export interface DataPlaneDeps {
  readonly holder: RuntimeHolder;
  readonly logger: Logger;
  readonly accessLog: AccessLog;
  readonly metrics: GatewayMetrics;
  readonly lifecycle: Lifecycle;
  /** Null when tracing is off: then each hook below is one null check. */
  readonly tracer?: RequestTracer | null;
}

export function createDataPlane(deps: DataPlaneDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { holder, logger, accessLog, metrics, lifecycle } = deps;
  const closing = (): boolean => lifecycle.draining;
  const never = (): boolean => false;
  const tracer = deps.tracer ?? null;
  // Throttled per failure kind and instance: an outage must not write a line per request.
  const failures = new RequestFailureLog(logger);

  return (req, res) => {
    // A request pipelined behind an answer that closes its connection is not served
    // (RFC 9112 9.6): after a refused head, its bytes can't be trusted to be a request.
    const socket = req.socket;
    // HTTP/1 only: an HTTP/2 stream shares its connection with others and never closes it.
    const h1 = req.httpVersionMajor === 1;
    if (h1 && closedSockets.has(socket)) return;
    // Pin the snapshot: this request follows these rules to its end, whatever reloads,
    // and what a reload replaced stays open until the pin is released (below).
    const runtime = holder.pin();
    const { state, traceparent, peer } = beginRequest(req, runtime, logger, tracer);
    if (lifecycle.draining && h1) res.setHeader('connection', 'close');
    // Decided before the parser reads on: it hands over pipelined requests synchronously.
    const refusal = refuseRequestHead(req);
    if (refusal && h1) closedSockets.add(socket);
    const outcome: GrpcOutcome = {
      instance: undefined,
      upstreamMs: undefined,
      attempts: 0,
      responseBytes: undefined,
      brokenAfterStart: undefined,
    };

    const fail = (error: unknown): void => {
      const close = h1 && (refusal !== undefined || closesAfter(req, lifecycle));
      if (close) closedSockets.add(socket);
      const grpc = speaksGrpc(state);
      const answered = sendError(res, error, state.requestId, state.responseHeaders, close, grpc);
      if (grpc) state.grpcStatus = grpcStatusFor(answered.status);
      if (isGatewayError(error)) state.reason = error.reason;
      if (answered.status >= 500 && !QUIET_5XX.has(answered.code)) {
        failures.report(state, outcome, error, answered.code);
      }
    };
    // Runs once the request is over, answered or failed.
    const settle = (): void => {
      holder.release(runtime);
      const status = res.writableEnded
        ? res.statusCode
        : outcome.brokenAfterStart !== undefined
          ? UPSTREAM_BROKE_OFF
          : CLIENT_CLOSED;
      if (outcome.brokenAfterStart !== undefined) {
        failures.reportBrokenAnswer(state, outcome, outcome.brokenAfterStart);
      }
      metrics.observeRequest(
        state.routeName,
        req.method ?? '',
        status,
        (performance.now() - state.startedAt) / 1000,
      );
      if (outcome.attempts > 1 || outcome.retryRefused) {
        metrics.observeRetries(state.routeName, outcome.attempts - 1, outcome.retryRefused === true);
      }
      if (state.matchedRoute?.split && outcome.service) {
        metrics.observeSplit(state.routeName, outcome.service, status);
      }
      if (state.matchedRoute?.grpc === true) {
        state.grpcStatus ??= outcome.grpcStatus;
        metrics.observeGrpc(state.routeName, state.grpcStatus);
      }
      if (runtime.config.log.access_log) accessLog.record(state, status, outcome);
      state.span?.end({
        route: state.matchedRoute?.name,
        status,
        clientIp: state.clientIp,
        userId: state.identity?.userId,
      });
    };
    // One reaction for both outcomes (not .catch().finally(): two more promises per request).
    (refusal
      ? Promise.reject(refusal)
      : handle(runtime, state, res, traceparent, peer, outcome, h1 ? closing : never)
    ).then(settle, (error: unknown) => {
      try {
        fail(error);
      } finally {
        settle();
      }
    });
  };

  async function handle(
    runtime: Runtime,
    state: RequestState,
    res: ServerResponse,
    traceparent: string,
    peer: string,
    outcome: GrpcOutcome,
    /** True while this answer must close its connection because the gateway drains (HTTP/1 only). */
    drainingH1: () => boolean,
  ): Promise<void> {
    const routed = routeRequest(runtime, state.req, state);
    if (typeof routed === 'string') {
      answerProbe(routed, res, state.requestId, lifecycle);
      return;
    }
    let reply = runPolicies(routed.route, state);
    if (reply instanceof Promise) reply = await reply;
    // An earlier answer on this connection closed it while the policies ran.
    if (state.req.httpVersionMajor === 1 && res.socket !== null && closedSockets.has(res.socket)) return;
    if (reply) {
      res.writeHead(reply.status, {
        ...state.responseHeaders,
        ...reply.headers,
        'x-request-id': state.requestId,
        ...(closesAfter(state.req, lifecycle) ? { connection: 'close' } : undefined),
      });
      res.end(reply.body);
      return;
    }
    const route = routed.route;
    if (routed.location !== undefined) {
      res.writeHead(route.redirect!.status, {
        ...state.responseHeaders,
        location: routed.location,
        'content-length': '0',
        'x-request-id': state.requestId,
        ...(closesAfter(state.req, lifecycle) ? { connection: 'close' } : undefined),
      });
      res.end();
      return;
    }
    const target = route.split ? route.split(state.req.headers) : route.target;
    const headers = headersForUpstream(runtime, state, traceparent, peer, target.passHost);
    route.requestHeaders?.(headers, state);
    state.responseHeaders['x-request-id'] = state.requestId;
    if (route.grpc) {
      await forwardGrpc(
        state.req,
        res,
        target,
        {
          path: routed.upstreamPath,
          headers,
          responseHeaders: state.responseHeaders,
          startedAt: state.startedAt,
        },
        outcome,
      );
      return;
    }
    const editResponse = route.responseHeaders;
    await forward(
      state.req,
      res,
      target,
      { path: routed.upstreamPath, headers, responseHeaders: state.responseHeaders, closing: drainingH1 },
      outcome,
      state.span,
      editResponse ? (upstreamHeaders) => editResponse(upstreamHeaders, state) : undefined,
    );
  }
}

/** Sockets whose last answer said `Connection: close`. */
const closedSockets = new WeakSet<object>();
/** 5xx answers not logged as failures: a timeout is routine (metrics count it), a 501 is the client's. */
const QUIET_5XX: ReadonlySet<string> = new Set(['UPSTREAM_TIMEOUT', 'NOT_IMPLEMENTED']);

/** nginx's convention: the client left before the answer was complete. */
export const CLIENT_CLOSED = 499;
/** The upstream's answer broke after part of it reached the client: its fault, counted as a 502. */
const UPSTREAM_BROKE_OFF = 502;

/**
 * Whether the gateway's own errors go out as gRPC statuses: the matched route says so;
 * before a route is known (no route, bad target) the request's content-type decides.
 */
function speaksGrpc(state: RequestState): boolean {
  const route = state.matchedRoute;
  return route !== undefined ? route.grpc : isGrpcContentType(state.req.headers['content-type']);
}

/** An HTTP/1 answer that must close its connection: the gateway drains, or the request body was left unread. */
function closesAfter(req: IncomingMessage, lifecycle: Lifecycle): boolean {
  return req.httpVersionMajor === 1 && (lifecycle.draining || hasUnreadBody(req));
}

function hasUnreadBody(req: IncomingMessage): boolean {
  return (
    !req.complete &&
    (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)
  );
}

function answerProbe(path: string, res: ServerResponse, requestId: string, lifecycle: Lifecycle): void {
  const headers = { 'x-request-id': requestId, 'cache-control': 'no-store' };
  if (path === '/health') {
    sendJson(res, 200, { status: 'ok' }, headers);
  } else if (lifecycle.ready && !lifecycle.draining) {
    sendJson(res, 200, { status: 'ready' }, headers);
  } else {
    sendJson(res, 503, { status: lifecycle.draining ? 'draining' : 'starting' }, headers);
  }
}
