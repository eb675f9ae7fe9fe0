// The public listener's request handler: ingress, route match, policy chain,
// forwarding, then one access-log line and the metrics. Every failure becomes a
// GatewayError answered by sendError; nothing here may throw past the handler.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.ts';
import { requestIdFrom, traceFrom } from '../observability/correlation.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { isPreflight } from '../policies/cors.ts';
import type { ForwardOutcome } from '../proxy/forward.ts';
import { forward } from '../proxy/forward.ts';
import { upstreamRequestHeaders } from '../proxy/headers.ts';
import { normalizeTarget } from '../routing/normalize-path.ts';
import type { CompiledRoute, Runtime } from '../runtime/build.ts';
import type { RuntimeHolder } from '../runtime/holder.ts';
import { RequestState } from './request-state.ts';
import { sendError, sendJson } from './send.ts';

export interface Lifecycle {
  /** True once the first config is serving and until draining starts. */
  readonly ready: boolean;
  readonly draining: boolean;
}

export interface DataPlaneDeps {
  readonly holder: RuntimeHolder;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly lifecycle: Lifecycle;
}

export function createDataPlane(deps: DataPlaneDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { holder, logger, metrics, lifecycle } = deps;

  return (req, res) => {
    // Pin the snapshot: this request follows these rules to its end, whatever reloads.
    const runtime = holder.current;
    const requestId = requestIdFrom(req.headers['x-request-id']);
    const trace = traceFrom(req.headers.traceparent);
    const peer = req.socket.remoteAddress ?? '';
    const state = new RequestState(req, requestId, trace.traceId, runtime.resolveClientIp(peer, req.headers), logger);
    if (lifecycle.draining) res.setHeader('connection', 'close');
    const outcome: ForwardOutcome = { instance: undefined, upstreamMs: undefined, attempts: 0, responseBytes: undefined };

    handle(runtime, state, res, trace.traceparent, peer, outcome)
      .catch((error: unknown) => {
        const answered = sendError(res, error, requestId, state.responseHeaders, hasUnreadBody(req));
        if (answered.status >= 500 && answered.code !== 'UPSTREAM_TIMEOUT') {
          state.log.warn({ err: error, code: answered.code }, 'request failed');
        }
      })
      .finally(() => finish(runtime, state, res, outcome, logger, metrics));
  };

  async function handle(
    runtime: Runtime,
    state: RequestState,
    res: ServerResponse,
    traceparent: string,
    peer: string,
    outcome: ForwardOutcome,
  ): Promise<void> {
    const req = state.req;
    const target = normalizeTarget(req.url ?? '');
    if ('error' in target) throw new GatewayError('BAD_REQUEST', { message: `Bad request target: ${target.error}` });
    if (target.path === '/health' || target.path === '/ready') {
      answerProbe(target.path, res, state.requestId, lifecycle);
      return;
    }
    const match = runtime.router.match(hostOf(req.headers.host), target.path);
    if (!match) throw new GatewayError('ROUTE_NOT_FOUND');
    const route = match.value;
    state.route = route;
    const preflight = isPreflight(req.method, req.headers);
    if (route.methods && !preflight && !route.methods.has(req.method!)) {
      throw new GatewayError('METHOD_NOT_ALLOWED', { headers: { allow: route.allow! } });
    }
    if (route.policies) {
      for (const policy of route.policies) {
        let reply = policy(state);
        if (reply instanceof Promise) reply = await reply;
        if (reply) {
          res.writeHead(reply.status, { ...state.responseHeaders, ...reply.headers, 'x-request-id': state.requestId });
          res.end();
          return;
        }
      }
    }
    const headers = upstreamRequestHeaders(req.rawHeaders, req.headers, {
      requestId: state.requestId,
      traceparent,
      forwardedFor: forwardedFor(req, peer, state.clientIp),
      forwardedProto: 'http',
      forwardedHost: req.headers.host,
      identity: state.identity && [runtime.userIdHeader, state.identity.userId, runtime.rolesHeader, state.identity.roles.join(',')],
      identityNames: runtime.identityNames,
      upgrade: false,
    });
    state.responseHeaders['x-request-id'] = state.requestId;
    await forward(req, res, route.target, upstreamPath(route, match.prefix, target.path, target.query), headers, state.responseHeaders, outcome);
  }
}

function upstreamPath(route: CompiledRoute, matchedPrefix: string, path: string, query: string): string {
  let rest = path;
  if (route.stripPrefix && matchedPrefix !== '/') {
    rest = path.slice(matchedPrefix.length);
    if (rest === '') rest = '/';
  }
  return rest + query;
}

/** The trusted chain is kept and the peer appended; an untrusted peer's claims are dropped. */
function forwardedFor(req: IncomingMessage, peer: string, clientIp: string): string {
  const incoming = req.headers['x-forwarded-for'];
  if (clientIp !== peer && incoming) return `${incoming}, ${peer}`;
  return peer;
}

function hostOf(host: string | undefined): string {
  if (!host) return '';
  const end = host.startsWith('[') ? host.indexOf(']') + 1 : host.indexOf(':');
  return (end > 0 ? host.slice(0, end) : host).toLowerCase();
}

function hasUnreadBody(req: IncomingMessage): boolean {
  return !req.complete && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined);
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

function finish(
  runtime: Runtime,
  state: RequestState,
  res: ServerResponse,
  outcome: ForwardOutcome,
  logger: Logger,
  metrics: GatewayMetrics,
): void {
  const durationMs = performance.now() - state.startedAt;
  // 499: the client left before the answer was complete (nginx's convention).
  const status = res.writableFinished ? res.statusCode : 499;
  metrics.observeRequest(state.routeName, state.req.method ?? '', status, durationMs / 1000);
  if (!runtime.config.log.access_log) return;
  logger.info(
    {
      request_id: state.requestId,
      trace_id: state.traceId,
      method: state.req.method,
      path: state.req.url,
      route: state.route?.name,
      service: state.route?.serviceName,
      instance: outcome.instance,
      attempts: outcome.attempts || undefined,
      status,
      duration_ms: Math.round(durationMs * 100) / 100,
      upstream_ms: outcome.upstreamMs === undefined ? undefined : Math.round(outcome.upstreamMs * 100) / 100,
      request_bytes: numberOrUndefined(state.req.headers['content-length']),
      response_bytes: outcome.responseBytes,
      client_ip: state.clientIp,
      user_id: state.identity?.userId,
    },
    'request',
  );
}

function numberOrUndefined(value: unknown): number | undefined {
  const n = Number(value);
  return value === undefined || Number.isNaN(n) ? undefined : n;
}
