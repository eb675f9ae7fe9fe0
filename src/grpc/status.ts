// gRPC's side of the gateway's vocabulary: the status a gateway error becomes
// (DESIGN.md "gRPC"), grpc-timeout read and written, grpc-message encoded.
// Pure: no I/O, no clock.

export const GRPC_OK = 0;
export const GRPC_DEADLINE_EXCEEDED = 4;
export const GRPC_UNAVAILABLE = 14;
export const GRPC_INTERNAL = 13;

/** The gRPC status a gateway answer with this HTTP status carries. */
export function grpcStatusFor(httpStatus: number): number {
  switch (httpStatus) {
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 413:
    case 429:
      return 8; // RESOURCE_EXHAUSTED
    case 502:
    case 503:
      return GRPC_UNAVAILABLE;
    case 504:
      return GRPC_DEADLINE_EXCEEDED;
    case 404:
    case 405:
      return 12; // UNIMPLEMENTED
    default:
      return GRPC_INTERNAL;
  }
}

/** Whether a request speaks gRPC: `application/grpc` or one of its `+proto`/`+json` forms. */
export function isGrpcContentType(value: string | undefined): boolean {
  if (!value?.startsWith('application/grpc')) return false;
  return value.length === 16 || value[16] === '+' || value[16] === ';';
}

const TIMEOUT_UNITS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};

/**
 * A grpc-timeout header (at most 8 digits and a unit, gRPC over HTTP/2 spec) in
 * milliseconds; undefined when absent, null when malformed.
 */
export function parseGrpcTimeout(value: string | undefined): number | undefined | null {
  if (value === undefined) return undefined;
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!match) return null;
  return Number(match[1]) * TIMEOUT_UNITS[match[2]];
}

/** Milliseconds left, as a grpc-timeout header value (rounded up, so a positive budget never becomes 0). */
export function formatGrpcTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  return whole <= 99_999_999 ? `${whole}m` : `${Math.min(99_999_999, Math.ceil(whole / 1000))}S`;
}

/** grpc-message is percent-encoded UTF-8 for anything outside printable ASCII and '%'. */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
