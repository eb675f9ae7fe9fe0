// GET /debug/route: which route a request would take and why the others would not.
// The answer comes from the data plane's own steps (target normalization, the router,
// the method check, the compiled chain), run on a described request, so it stays true
// as routing grows. Nothing is sent anywhere: no policy runs, no upstream is called.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { isGatewayError } from '../errors.ts';
import { normalizeTarget } from '../routing/normalize-path.ts';
import type { Runtime } from '../runtime/build.ts';
import { hostOf, routeRequest } from '../server/ingress.ts';
import type { InstanceStatus } from '../upstream/instance.ts';
import type { InstanceState } from './dashboard-state.ts';

export interface DescribedRequest {
  readonly method: string;
  /** The Host header, port allowed. */
  readonly host: string;
  /** Path and query as the client would send them. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
}

export interface RouteExplanation {
  readonly request: DescribedRequest;
  /** What the gateway would answer by itself, when it would: 400, 404, 405, or a probe's 200. */
  readonly outcome: 'forwarded' | 'redirected' | 'bad_request' | 'not_found' | 'method_not_allowed' | 'probe';
  readonly status: number | undefined;
  readonly message: string | undefined;
  readonly normalizedPath: string | undefined;
  readonly route: string | undefined;
  readonly service: string | undefined;
  /** Path and query the instance would receive (before its base path). */
  readonly forwardedPath: string | undefined;
  /** The route's policies, in the order they would run. */
  readonly policies: readonly string[];
  /**
   * The service's instances with health and breaker state. With server.workers above 1,
   * merged over the workers as on the dashboard (each worker's view under `workers`).
   */
  readonly instances: readonly InstanceState[];
  /** With server.workers above 1: workers that did not answer (their instance views are absent). */
  readonly workersMissing?: number;
  /** Every route in config order: `matched`, or why not. */
  readonly routes: readonly { route: string; host: string | undefined; matched: boolean; reason?: string }[];
}

export function explainRoute(
  runtime: Runtime,
  request: DescribedRequest,
  instancesOf: (service: string) => readonly InstanceStatus[],
): RouteExplanation {
  const headers = { ...lowerCased(request.headers), host: request.host };
  const target = normalizeTarget(request.path);
  const normalizedPath = 'error' in target ? undefined : target.path;
  const verdicts =
    'error' in target
      ? undefined
      : runtime.router.explain(hostOf(request.host), target.path, headers, target.query);
  const routes = (verdicts?.routes ?? []).map((verdict) => ({
    route: verdict.value.name,
    host: verdict.host,
    matched: verdict.reason === undefined,
    ...(verdict.reason === undefined ? {} : { reason: verdict.reason }),
  }));
  const matched = verdicts?.match?.value;
  const base = {
    request,
    normalizedPath,
    route: matched?.name,
    service: matched?.serviceName,
    policies: matched?.chain?.steps.map((step) => step.name) ?? [],
    instances: matched ? instancesOf(matched.serviceName) : [],
    routes,
  };
  const described = {
    url: request.path,
    method: request.method,
    headers,
  } as unknown as IncomingMessage;
  try {
    const routed = routeRequest(runtime, described);
    if (typeof routed === 'string') {
      return {
        ...base,
        outcome: 'probe',
        status: 200,
        message: `${routed} is answered by the gateway itself`,
        forwardedPath: undefined,
      };
    }
    if (routed.location !== undefined) {
      return {
        ...base,
        outcome: 'redirected',
        status: undefined,
        message: `answered by the gateway with a redirect to ${routed.location}`,
        forwardedPath: undefined,
      };
    }
    return {
      ...base,
      outcome: 'forwarded',
      status: undefined,
      message: undefined,
      forwardedPath: routed.upstreamPath,
    };
  } catch (error) {
    if (!isGatewayError(error)) throw error;
    const outcome =
      error.code === 'ROUTE_NOT_FOUND'
        ? 'not_found'
        : error.code === 'METHOD_NOT_ALLOWED'
          ? 'method_not_allowed'
          : 'bad_request';
    const message =
      outcome === 'method_not_allowed'
        ? `${request.method} is not in the route's methods (${error.headers?.allow})`
        : error.message;
    return { ...base, outcome, status: error.status, message, forwardedPath: undefined };
  }
}

function lowerCased(headers: Readonly<Record<string, string>>): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

const METHOD = /^[A-Z]{1,16}$/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
const MAX_VALUE = 2048;

/**
 * Reads the described request from the query (`method`, `host`, `path`, and
 * `header.<name>=<value>`) or a JSON body `{method, host, path, headers}`. Returns the
 * request, or the reason it is not one.
 */
export function describedRequest(
  query: URLSearchParams,
  body: unknown,
): { ok: true; request: DescribedRequest } | { ok: false; problem: string } {
  let fields: { method?: unknown; host?: unknown; path?: unknown; headers?: unknown };
  if (body !== undefined) {
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      return { ok: false, problem: 'the body must be a JSON object' };
    fields = body as typeof fields;
  } else {
    const headers: Record<string, string> = {};
    for (const [key, value] of query) if (key.startsWith('header.')) headers[key.slice(7)] = value;
    fields = {
      method: query.get('method') ?? undefined,
      host: query.get('host') ?? undefined,
      path: query.get('path') ?? undefined,
      headers,
    };
  }
  const method = fields.method ?? 'GET';
  const host = fields.host ?? '';
  const path = fields.path;
  const headers = fields.headers ?? {};
  if (typeof method !== 'string' || !METHOD.test(method))
    return { ok: false, problem: 'method must be an upper-case HTTP method' };
  if (typeof host !== 'string' || host.length > 255)
    return { ok: false, problem: 'host must be a string of at most 255 characters' };
  if (typeof path !== 'string' || path === '' || path.length > MAX_VALUE)
    return { ok: false, problem: 'path is required (the request target, e.g. /api/users/1)' };
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers))
    return { ok: false, problem: 'headers must be an object of strings' };
  const checked: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name)) return { ok: false, problem: `"${name}" is not a header name` };
    if (typeof value !== 'string' || value.length > MAX_VALUE)
      return { ok: false, problem: `header ${name} must be a string` };
    checked[name] = value;
  }
  return { ok: true, request: { method, host, path, headers: checked } };
}
