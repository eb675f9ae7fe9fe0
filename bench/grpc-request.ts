// The gRPC rows' one call: a unary POST of a fixed length-prefixed message to
// /bench.Greeter/SayHello (h2c, prior knowledge), counted as a success only when the
// answer is HTTP 200 and its trailers say grpc-status 0. Shared by the loader
// (bench/grpc-load.ts), the probe before each row and the upstream's readiness wait.
import { type ClientHttp2Session, connect } from 'node:http2';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Child, isRunning } from './children.ts';

export const GRPC_PATH = '/bench.Greeter/SayHello';

/** A length-prefixed message: flag 0 (not compressed), 4-byte big-endian length, the bytes. */
export function frame(message: Buffer): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

// Field 1 (string) "bench": what a HelloRequest { name: "bench" } encodes to.
const REQUEST = frame(Buffer.from([0x0a, 0x05, ...Buffer.from('bench')]));

/** One unary call on the session; resolves whether it ended with grpc-status 0. */
export function grpcCall(session: ClientHttp2Session, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let status = 0;
    let grpcStatus: string | undefined;
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
      // A trailers-only answer carries grpc-status in these headers.
      if (headers['grpc-status'] !== undefined) grpcStatus = String(headers['grpc-status']);
    });
    stream.on('trailers', (trailers) => {
      grpcStatus = String(trailers['grpc-status']);
    });
    stream.on('data', () => {});
    stream.on('end', () => resolve(status === 200 && grpcStatus === '0'));
    stream.on('error', () => resolve(false));
    stream.end(REQUEST);
  });
}

/** Fails unless one call to url answers grpc-status 0: a fast stream of errors is not a result. */
export async function grpcProbe(url: string): Promise<void> {
  const target = new URL(url);
  const session = connect(target.origin);
  session.on('error', () => {});
  try {
    const ok = await Promise.race([grpcCall(session, target.pathname), sleep(5000, false)]);
    if (!ok) throw new Error(`gRPC probe ${url} did not answer grpc-status 0`);
  } finally {
    session.destroy();
  }
}

/** Polls url with a gRPC call until it answers grpc-status 0; fails early if the process exits. */
export async function waitForGrpc(url: string, child: Child, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isRunning(child)) throw new Error(`${child.name} exited before answering gRPC at ${url}`);
    try {
      await grpcProbe(url);
      return;
    } catch {
      await sleep(50);
    }
  }
  throw new Error(`${child.name} did not answer gRPC at ${url} within ${timeoutMs / 1000}s`);
}
