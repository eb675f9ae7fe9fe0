// The one function that turns a failed upstream exchange into the client's answer.
import { GatewayError } from '../errors.ts';

/** How an upstream failure counts for retries, the breaker and passive health. */
export type FailureKind =
  /** Nothing reached the instance: retry anywhere, mark the instance down. */
  | 'unreachable'
  /** The connection broke before response headers: retry only if idempotent and replayable. */
  | 'reset'
  | 'timeout'
  | 'garbled'
  /** The client's own request body was short or too large, or the client left. */
  | 'client';

export class BodyLimitExceeded extends Error {
  constructor() {
    super('request body over body_limit');
    this.name = 'BodyLimitExceeded';
  }
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const RESET = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const TIMEOUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const CLIENT = new Set([
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_ABORTED',
  'ABORT_ERR',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

export function classifyFailure(error: unknown): FailureKind {
  if (error instanceof BodyLimitExceeded) return 'client';
  const code = errorCode(error);
  if (code !== undefined) {
    if (UNREACHABLE.has(code)) return 'unreachable';
    if (RESET.has(code)) return 'reset';
    if (TIMEOUT.has(code)) return 'timeout';
    if (CLIENT.has(code)) return 'client';
  }
  return 'garbled';
}

/** The gateway's answer for a failure before response headers were sent. */
export function toGatewayError(error: unknown, kind: FailureKind): GatewayError {
  if (error instanceof GatewayError) return error;
  if (
    error instanceof BodyLimitExceeded ||
    (error as { cause?: unknown })?.cause instanceof BodyLimitExceeded
  ) {
    return new GatewayError('PAYLOAD_TOO_LARGE', { cause: error });
  }
  switch (kind) {
    case 'timeout':
      return new GatewayError('UPSTREAM_TIMEOUT', { cause: error });
    case 'client':
      return new GatewayError('BAD_REQUEST', { message: 'The request body ended early', cause: error });
    default:
      return new GatewayError('BAD_GATEWAY', { cause: error });
  }
}

function errorCode(error: unknown): string | undefined {
  let current = error as { code?: unknown; cause?: unknown; name?: string } | undefined;
  for (let depth = 0; current && depth < 4; depth++) {
    if (typeof current.code === 'string') return current.code;
    if (current.name === 'AbortError') return 'ABORT_ERR';
    current = current.cause as typeof current;
  }
  return undefined;
}
