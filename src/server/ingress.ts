// The steps every request takes before it is forwarded, shared by plain requests and
// WebSocket handshakes: target normalization, route match, method check, the policy
// chain, and the headers the upstream will see.
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.ts';
import { requestIdFrom, traceFrom } from '../observability/correlation.ts';
import type { RequestSpan, RequestTracer } from '../observability/tracing.ts';
import { isPreflight } from '../policies/cors.ts';
import { type ChainOutcome, type PolicyChain, runChain } from '../policies/runner.ts';
import { upstreamRequestHeaders } from '../proxy/headers.ts';
import { normalizeTarget } from '../routing/normalize-path.ts';
import type { CompiledRoute, Runtime } from '../runtime/build.ts';
import { tlsSocketOf, verifiedClientSubject } from '../tls/peer.ts';
import { RequestState } from './request-state.ts';

export interface Ingress {
  readonly state: RequestState;
  /** The traceparent to send upstream: the client's trace, the gateway's span. */
  readonly traceparent: string;
  /** The TCP peer's address. */
  readonly peer: string;
}

/** What every request settles first: its id, trace, client address and state. */
export function beginRequest(
  req: IncomingMessage,
  runtime: Runtime,
  logger: Logger,
  tracer?: RequestTracer | null,
): Ingress {
  // With tracing on, the server span continues the client's trace; else only its id is kept.
  const span = tracer ? tracer.startRequest(req.headers.traceparent, req.method ?? '') : undefined;
  const trace = span ?? traceFrom(req.headers.traceparent);
  const peer = req.socket.remoteAddress ?? '';
  const requestId = requestIdFrom(req.headers['x-request-id']);
  const clientIp = runtime.resolveClientIp(peer, req.headers);
  const state = new RequestState(
    req,
    requestId,
    trace.traceId,
    clientIp,
    logger,
    runtime.identityNames,
    span,
  );
  const tlsSocket = tlsSocketOf(req);
  state.scheme = runtime.resolveScheme(peer, req.headers['x-forwarded-proto'], tlsSocket !== undefined);
  if (tlsSocket !== undefined) state.clientCertSubject = verifiedClientSubject(tlsSocket);
  return {
    state,
    traceparent: trace.traceparent,
    peer,
  };
}

export interface RoutedRequest {
  readonly route: CompiledRoute;
  /** Path and query as the instance sees them (before its base path). */
  readonly upstreamPath: string;
  /** The Location to answer with, on a redirect route (the route's status goes with it). */
  readonly location?: string;
}

/** The normalized path for the gateway's own endpoints, or undefined. */
export type ProbePath = '/health' | '/ready';

/**
 * Matches the request to a route, or throws 400/404/405. Returns a probe path for
 * /health and /ready. The matched route is recorded on `state` before the method
 * check, so a 405 is counted under its route.
 */
export function routeRequest(
  runtime: Runtime,
  req: IncomingMessage,
  state?: RequestState,
): RoutedRequest | ProbePath {
  const target = normalizeTarget(req.url ?? '');
  if ('error' in target)
    throw new GatewayError('BAD_REQUEST', { message: `Bad request target: ${target.error}` });
  if (target.path === '/health' || target.path === '/ready') return target.path;
  const match = runtime.router.match(hostOf(req.headers.host), target.path, req.headers, target.query);
  if (!match) throw new GatewayError('ROUTE_NOT_FOUND');
  const route = match.value;
  if (state) {
    state.matchedRoute = route;
    state.path = target.path;
    state.rawQuery = target.query;
  }
  if (route.methods && !route.methods.has(req.method!) && !isPreflight(req.method, req.headers)) {
    throw new GatewayError('METHOD_NOT_ALLOWED', { headers: { allow: route.allow! } });
  }
  if (route.redirect) return { route, upstreamPath: '', location: route.redirect.location(target.path) };
  let rest = target.path;
  if (route.rewrite) {
    rest = route.rewrite(target.path);
  } else if (route.stripPrefix && match.prefix !== '/') {
    rest = target.path.slice(match.prefix.length) || '/';
  }
  return { route, upstreamPath: rest + target.query };
}

/**
 * Runs the route's policies in order; a LocalReply ends the request there. A promise
 * only when a policy returned one.
 */
export function runPolicies(route: CompiledRoute, state: RequestState): ChainOutcome | Promise<ChainOutcome> {
  if (route.chain === null) return undefined;
  if (state.span !== undefined) return runTracedChain(route.chain, state, state.span);
  return runChain(route.chain, state);
}

/**
 * The same chain with a child span per policy (only when the request is traced): each
 * step runs through runChain alone, so containment and deadlines stay the runner's.
 */
async function runTracedChain(
  chain: PolicyChain,
  state: RequestState,
  span: RequestSpan,
): Promise<ChainOutcome> {
  for (const step of chain.steps) {
    const child = span.child(`policy ${step.name}`);
    try {
      const reply = await runChain({ steps: [step], observer: chain.observer }, state);
      child?.end();
      if (reply) return reply;
    } catch (error) {
      child?.end(error);
      throw error;
    }
  }
  return undefined;
}

export function headersForUpstream(
  runtime: Runtime,
  state: RequestState,
  traceparent: string,
  peer: string,
  passHost: boolean,
): string[] {
  const req = state.req;
  const incoming = req.headers;
  // A trusted proxy in front knows the scheme and Host the client used: keep its values.
  // Anyone else's claims are replaced with what the gateway itself saw.
  const trusted = runtime.trustsPeer(peer);
  const proto = trusted ? single(incoming['x-forwarded-proto']) : undefined;
  const forwardedHost = trusted ? single(incoming['x-forwarded-host']) : undefined;
  const headers = upstreamRequestHeaders(req.rawHeaders, incoming, {
    requestId: state.requestId,
    traceparent,
    forwardedFor: forwardedFor(req, peer, trusted),
    forwardedProto: proto ?? state.scheme,
    forwardedHost: forwardedHost ?? incoming.host,
    host: passHost ? incoming.host : undefined,
    identity: state.identity && [
      runtime.userIdHeader,
      state.identity.userId,
      runtime.rolesHeader,
      state.identity.roles.join(','),
    ],
    identityNames: runtime.identityNames,
  });
  return state.upstreamHeaders === undefined ? headers : withPolicyHeaders(headers, state.upstreamHeaders);
}

/** Headers a policy set replace the client's copies (the guard already refused gateway-owned names). */
function withPolicyHeaders(headers: string[], set: readonly string[]): string[] {
  const names = new Set<string>();
  for (let i = 0; i < set.length; i += 2) names.add(set[i]);
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!names.has(headers[i].toLowerCase())) out.push(headers[i], headers[i + 1]);
  }
  out.push(...set);
  return out;
}

/** The value as the proxy sent it (node joins repeated lines with ", "); an empty one counts as absent. */
function single(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value.join(', ') : value;
  return text === undefined || text.trim() === '' ? undefined : text;
}

/** A trusted proxy's chain is kept and the peer appended; an untrusted peer's claims are dropped. */
function forwardedFor(req: IncomingMessage, peer: string, trusted: boolean): string {
  const incoming = req.headers['x-forwarded-for'];
  if (trusted && incoming) return `${incoming}, ${peer}`;
  return peer;
}

export function hostOf(host: string | undefined): string {
  if (!host) return '';
  const end = host.startsWith('[') ? host.indexOf(']') + 1 : host.indexOf(':');
  return (end > 0 ? host.slice(0, end) : host).toLowerCase();
}
