// Request ids and W3C trace context. Ids come from randomUUID, which Node serves from
// a pre-generated entropy pool: cheaper per request than randomBytes.
import { randomUUID } from 'node:crypto';

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** The client's X-Request-ID when it is well-formed, else a new one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  if (typeof header === 'string' && CLIENT_REQUEST_ID.test(header)) return header;
  return randomUUID();
}

export interface TraceContext {
  readonly traceId: string;
  /** The traceparent to send upstream: same trace, the gateway's own span. */
  readonly traceparent: string;
}

export interface IncomingTrace {
  readonly traceId: string;
  readonly spanId: string;
  /** The trace-flags byte: bit 0 is "sampled". */
  readonly flags: number;
}

/** The client's traceparent when it is valid W3C trace context (version 00), else undefined. */
export function parseTraceparent(header: string | string[] | undefined): IncomingTrace | undefined {
  const match = typeof header === 'string' ? TRACEPARENT.exec(header.trim().toLowerCase()) : null;
  if (!match || match[1] === ZERO_TRACE || match[2] === ZERO_SPAN) return undefined;
  return { traceId: match[1], spanId: match[2], flags: Number.parseInt(match[3], 16) };
}

/** Keeps a valid incoming trace id (with a new parent id), or starts a trace. */
export function traceFrom(header: string | string[] | undefined): TraceContext {
  const spanId = randomUUID().replace(/-/g, '').slice(0, 16);
  const match = typeof header === 'string' ? TRACEPARENT.exec(header.trim().toLowerCase()) : null;
  if (match && match[1] !== ZERO_TRACE && match[2] !== ZERO_SPAN) {
    return { traceId: match[1], traceparent: `00-${match[1]}-${spanId}-${match[3]}` };
  }
  const traceId = randomUUID().replace(/-/g, '');
  return { traceId, traceparent: `00-${traceId}-${spanId}-01` };
}
