// One grpc.health.v1.Health/Check call over the instance's HTTP/2 session
// (health_check: { type: grpc }). The two messages are tiny, so they are encoded by
// hand rather than with a protobuf library:
//   HealthCheckRequest  { string service = 1; }            -> 0x0a <len> <utf-8>
//   HealthCheckResponse { ServingStatus status = 1; }      -> 0x08 <varint>, SERVING = 1
// Each message travels in gRPC's frame: 1 byte compressed flag, 4 bytes length.
import { constants } from 'node:http2';
import type { H2SessionSlot } from './h2-session.ts';

export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';
const SERVING = 1;
/** A health answer is a few bytes; anything bigger is not one. */
const MAX_ANSWER = 64 * 1024;

export function encodeHealthRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const message =
    name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(name.length), name]);
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/** The status field of a framed HealthCheckResponse; undefined when it is not one. */
export function decodeHealthStatus(frame: Buffer): number | undefined {
  if (frame.length < 5 || frame[0] !== 0) return undefined;
  const length = frame.readUInt32BE(1);
  if (frame.length < 5 + length) return undefined;
  const message = frame.subarray(5, 5 + length);
  let status = 0; // proto3: an absent field is its zero value, UNKNOWN
  for (let i = 0; i < message.length; ) {
    const tag = message[i++];
    const wire = tag & 7;
    if (wire === 0) {
      const [value, next] = readVarint(message, i);
      if (next < 0) return undefined;
      if (tag >> 3 === 1) status = value;
      i = next;
    } else if (wire === 2) {
      const [length, next] = readVarint(message, i);
      if (next < 0) return undefined;
      i = next + length;
    } else {
      return undefined;
    }
  }
  return status;
}

/** Resolves true when the instance answers SERVING with grpc-status 0 within `timeoutMs`. */
export async function probeGrpcHealth(
  slot: H2SessionSlot,
  basePath: string,
  service: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<boolean> {
  const session = await slot.session();
  return new Promise((resolve) => {
    const stream = session.request(
      {
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: basePath + HEALTH_CHECK_PATH,
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMs))}m`,
        'user-agent': 'gatehouse-health-check',
      },
      { signal },
    );
    const chunks: Buffer[] = [];
    let size = 0;
    let grpcStatus: string | undefined;
    const read = (fields: Record<string, unknown>) => {
      const value = fields['grpc-status'];
      if (value !== undefined) grpcStatus = String(value);
    };
    stream.on('response', read);
    stream.on('trailers', read);
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_ANSWER) stream.close(constants.NGHTTP2_CANCEL);
      else chunks.push(chunk);
    });
    stream.on('error', () => {});
    stream.on('close', () => {
      const status = decodeHealthStatus(Buffer.concat(chunks));
      resolve(grpcStatus === '0' && size <= MAX_ANSWER && status === SERVING);
    });
    stream.end(encodeHealthRequest(service));
  });
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** [value, index after it], or [0, -1] when the varint is cut short or too long. */
function readVarint(buffer: Buffer, start: number): [number, number] {
  let value = 0;
  for (let i = start, shift = 0; i < buffer.length && shift < 35; i++, shift += 7) {
    value += (buffer[i] & 0x7f) * 2 ** shift;
    if ((buffer[i] & 0x80) === 0) return [value, i + 1];
  }
  return [0, -1];
}
