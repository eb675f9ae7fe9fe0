// Request ids and W3C trace context. Every request gets ids, so they come from
// pre-generated entropy: request ids from randomUUID (Node keeps a pool for it), trace
// and span ids hex-encoded from a pool of random bytes refilled when used up.
import { randomFillSync, randomUUID } from 'node:crypto';

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
  const spanId = randomHex(8, ZERO_SPAN);
  const match = typeof header === 'string' ? TRACEPARENT.exec(header.trim().toLowerCase()) : null;
  if (match && match[1] !== ZERO_TRACE && match[2] !== ZERO_SPAN) {
    return { traceId: match[1], traceparent: `00-${match[1]}-${spanId}-${match[3]}` };
  }
  const traceId = randomHex(16, ZERO_TRACE);
  return { traceId, traceparent: `00-${traceId}-${spanId}-01` };
}

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let poolOffset = POOL_BYTES;

/** `bytes` random bytes as lower-case hex, never `invalid` (W3C forbids all-zero ids). */
function randomHex(bytes: number, invalid: string): string {
  for (;;) {
    if (poolOffset + bytes > POOL_BYTES) {
      randomFillSync(pool);
      poolOffset = 0;
    }
    const hex = pool.toString('hex', poolOffset, poolOffset + bytes);
    poolOffset += bytes;
    if (hex !== invalid) return hex;
  }
}
