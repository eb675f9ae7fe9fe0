// CORS, answered by the gateway: preflights never reach an upstream. Origins are
// matched exactly (or as *.domain with an anchored suffix), an arbitrary Origin is
// never reflected with credentials, and every answer that varies by Origin says so.
import type { CorsConfig } from '../config/schema.ts';
import type { LocalReply, Policy, PolicyRequest } from './policy.ts';

export function isPreflight(method: string | undefined, headers: Record<string, unknown>): boolean {
  return (
    method === 'OPTIONS' &&
    headers.origin !== undefined &&
    headers['access-control-request-method'] !== undefined
  );
}

export function createCorsPolicy(config: CorsConfig | undefined): Policy | null {
  if (!config) return null;
  const anyOrigin = config.allowed_origins.includes('*');
  const exact = new Set(config.allowed_origins.filter((o) => !o.includes('*')).map((o) => o.toLowerCase()));
  const wildcards = config.allowed_origins
    .filter((o) => o !== '*' && o.includes('://*.'))
    .map((o) => {
      const [scheme, rest] = o.toLowerCase().split('://*');
      return { scheme: `${scheme}://`, suffix: rest };
    });
  const allowedMethods = new Set(config.allowed_methods);
  const methodsValue = config.allowed_methods.join(', ');
  const headersValue = config.allowed_headers.join(', ');
  const exposeValue = config.exposed_headers.join(', ');
  const maxAge = String(Math.floor(config.max_age / 1000));
  const credentials = config.allow_credentials;

  const allowOrigin = (request: PolicyRequest, origin: string): void => {
    request.setResponseHeader('access-control-allow-origin', anyOrigin && !credentials ? '*' : origin);
    if (credentials) request.setResponseHeader('access-control-allow-credentials', 'true');
  };

  const allows = (origin: string): boolean => {
    if (anyOrigin) return true;
    const lower = origin.toLowerCase();
    if (exact.has(lower)) return true;
    return wildcards.some(
      ({ scheme, suffix }) =>
        lower.startsWith(scheme) &&
        lower.endsWith(suffix) &&
        lower.length > scheme.length + suffix.length &&
        /^[a-z0-9.-]+$/.test(lower.slice(scheme.length, lower.length - suffix.length)),
    );
  };

  return (request: PolicyRequest): LocalReply | undefined => {
    const headers = request.headers;
    const origin = headers.origin;
    const preflight = isPreflight(request.method, headers);
    if (origin === undefined || !allows(origin)) {
      // Not a CORS request we accept: no CORS headers, so the browser keeps the answer from the page.
      request.setResponseHeader('vary', 'Origin');
      return preflight ? { status: 204 } : undefined;
    }
    if (!preflight) {
      request.setResponseHeader('vary', 'Origin');
      allowOrigin(request, origin);
      request.setResponseHeader('access-control-expose-headers', exposeValue);
      return undefined;
    }
    const requested = String(headers['access-control-request-method']).toUpperCase();
    if (!allowedMethods.has(requested)) {
      request.setResponseHeader('vary', 'Origin');
      return { status: 204 };
    }
    request.setResponseHeader(
      'vary',
      'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
    );
    allowOrigin(request, origin);
    request.setResponseHeader('access-control-allow-methods', methodsValue);
    request.setResponseHeader('access-control-allow-headers', headersValue);
    request.setResponseHeader('access-control-max-age', maxAge);
    return { status: 204 };
  };
}
