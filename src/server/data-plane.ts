// The public listener's request handler: ingress, route match, policy chain,
// forwarding, then one access-log line and the metrics. Every failure becomes a
// GatewayError answered by sendError; nothing here may throw past the handler.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { type ForwardOutcome, forward } from '../proxy/forward.ts';
import type { Runtime } from '../runtime/build.ts';
import type { RuntimeHolder } from '../runtime/holder.ts';
import { beginRequest, headersForUpstream, routeRequest, runPolicies } from './ingress.ts';
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
  readonly accessLog: Logger;
  readonly metrics: GatewayMetrics;
  readonly lifecycle: Lifecycle;
}

export function createDataPlane(deps: DataPlaneDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { holder, logger, accessLog, metrics, lifecycle } = deps;

  return (req, res) => {
    // Pin the snapshot: this request follows these rules to its end, whatever reloads.
    const runtime = holder.current;
    const { state, traceparent, peer } = beginRequest(req, runtime, logger);
    if (lifecycle.draining) res.setHeader('connection', 'close');
    const outcome: ForwardOutcome = {
      instance: undefined,
      upstreamMs: undefined,
      attempts: 0,
      responseBytes: undefined,
    };

    handle(runtime, state, res, traceparent, peer, outcome)
      .catch((error: unknown) => {
        const answered = sendError(res, error, state.requestId, state.responseHeaders, hasUnreadBody(req));
        if (answered.status >= 500 && answered.code !== 'UPSTREAM_TIMEOUT') {
          state.log.warn({ err: error, code: answered.code }, 'request failed');
        }
      })
      .finally(() => {
        const status = res.writableEnded ? res.statusCode : CLIENT_CLOSED;
        metrics.observeRequest(
          state.routeName,
          req.method ?? '',
          status,
          (performance.now() - state.startedAt) / 1000,
        );
        if (runtime.config.log.access_log) accessLog.info(accessLogFields(state, status, outcome), 'request');
      });
  };

  async function handle(
    runtime: Runtime,
    state: RequestState,
    res: ServerResponse,
    traceparent: string,
    peer: string,
    outcome: ForwardOutcome,
  ): Promise<void> {
    const routed = routeRequest(runtime, state.req, state);
    if (typeof routed === 'string') {
      answerProbe(routed, res, state.requestId, lifecycle);
      return;
    }
    state.route = routed.route;
    const reply = await runPolicies(routed.route, state);
    if (reply) {
      res.writeHead(reply.status, {
        ...state.responseHeaders,
        ...reply.headers,
        'x-request-id': state.requestId,
      });
      res.end();
      return;
    }
    const headers = headersForUpstream(runtime, state, traceparent, peer);
    state.responseHeaders['x-request-id'] = state.requestId;
    await forward(
      state.req,
      res,
      routed.route.target,
      routed.upstreamPath,
      headers,
      state.responseHeaders,
      outcome,
    );
  }
}

/** nginx's convention: the client left before the answer was complete. */
export const CLIENT_CLOSED = 499;

export function accessLogFields(
  state: RequestState,
  status: number,
  outcome: ForwardOutcome,
): Record<string, unknown> {
  const round = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms * 100) / 100);
  const requestBytes = state.req.headers['content-length'];
  return {
    request_id: state.requestId,
    trace_id: state.traceId,
    method: state.req.method,
    path: state.req.url,
    route: state.route?.name,
    service: state.route?.serviceName,
    instance: outcome.instance,
    attempts: outcome.attempts || undefined,
    status,
    duration_ms: round(performance.now() - state.startedAt),
    upstream_ms: round(outcome.upstreamMs),
    request_bytes: requestBytes === undefined ? undefined : Number(requestBytes),
    response_bytes: outcome.responseBytes,
    client_ip: state.clientIp,
    user_id: state.identity?.userId,
    http_version: state.req.httpVersion,
    client_cert_subject: state.clientCertSubject,
  };
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
