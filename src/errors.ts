// The one place where gateway failures get their status code. Each code is its own
// key so the docs can be checked against this list (see test/errors.test.ts).
export const ERROR_CATALOG = {
  BAD_REQUEST: { status: 400, message: 'The request is malformed' },
  UNAUTHORIZED: { status: 401, message: 'Missing or invalid credentials' },
  FORBIDDEN: { status: 403, message: 'The request is not allowed' },
  HTTPS_REQUIRED: {
    status: 403,
    message: 'Credentials are only accepted over HTTPS; this one arrived over plain HTTP',
  },
  ROUTE_NOT_FOUND: { status: 404, message: 'No route matches this request' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'This route does not accept this method' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is larger than the gateway accepts' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are larger than the gateway accepts' },
  RATE_LIMITED: { status: 429, message: 'Too many requests' },
  INTERNAL_ERROR: { status: 500, message: 'The gateway failed to handle this request' },
  NOT_IMPLEMENTED: { status: 501, message: 'The gateway cannot decode this transfer coding' },
  BAD_GATEWAY: { status: 502, message: 'The upstream service answered badly or not at all' },
  UPSTREAM_UNAVAILABLE: { status: 503, message: 'No healthy instance of the upstream service is available' },
  AUTH_UNAVAILABLE: { status: 503, message: 'The authentication service is unavailable' },
  POLICY_TIMEOUT: { status: 503, message: 'A policy of this route did not decide in time' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'The upstream service did not answer in time' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export interface GatewayErrorOptions {
  message?: string;
  /** Extra response headers, e.g. Retry-After or WWW-Authenticate. */
  headers?: Readonly<Record<string, string>>;
  cause?: unknown;
  /** A short code saying why (e.g. a 401's `expired`), for the access log; never a credential. */
  reason?: string;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly headers: Readonly<Record<string, string>> | undefined;
  readonly reason: string | undefined;

  constructor(code: ErrorCode, options: GatewayErrorOptions = {}) {
    super(options.message ?? ERROR_CATALOG[code].message, { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = ERROR_CATALOG[code].status;
    this.headers = options.headers;
    this.reason = options.reason;
  }
}

/**
 * A plugin imports GatewayError from `gatehouse/plugin` (the sources) while the gateway
 * may run from its build: two copies of the class. The check is by name and shape, so
 * either copy's errors map to their status.
 */
export function isGatewayError(error: unknown): error is GatewayError {
  if (error instanceof GatewayError) return true;
  if (!(error instanceof Error) || error.name !== 'GatewayError') return false;
  const { code, status } = error as Partial<GatewayError>;
  return typeof code === 'string' && code in ERROR_CATALOG && status === ERROR_CATALOG[code].status;
}

/** The JSON body DESIGN.md fixes for every error answered by the gateway itself. */
export function errorBody(code: ErrorCode, message: string, requestId: string): string {
  return JSON.stringify({ error: { code, message, request_id: requestId } });
}
