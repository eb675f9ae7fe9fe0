// A real gRPC server and client (@grpc/grpc-js) on the test service of
// test/fixtures/echo.proto: each call kind echoes, with hooks for a test to answer
// otherwise (statuses, trailers, slowness) and to see the metadata that arrived.
import { once } from 'node:events';
import { constants, createServer, type IncomingHttpHeaders, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HEALTH_SERVICE, healthCheckResponse } from '../../demo/services/grpc-health.ts';

const PROTO = fileURLToPath(new URL('../fixtures/echo.proto', import.meta.url));

export interface Msg {
  payload: Buffer;
  text: string;
}

// biome-ignore lint/suspicious/noExplicitAny: grpc-js's loaded service types are dynamic
type AnyCall = any;

export interface EchoBehaviour {
  /** Replaces the echo of Unary. */
  unary?: (call: AnyCall, callback: grpc.sendUnaryData<Msg>) => void;
  serverStream?: (call: AnyCall) => void;
}

export interface TestGrpcServer {
  readonly port: number;
  /** What grpc.health.v1.Health/Check answers: SERVING (1) while true, NOT_SERVING (2) after. */
  health: { serving: boolean };
  /** Messages the ServerStream echo has handed to grpc-js so far (backpressure shows here). */
  readonly streamed: { written: number };
  readonly url: string;
  /** Metadata of every call, in order. */
  readonly metadata: grpc.Metadata[];
  readonly server: grpc.Server;
  close(): Promise<void>;
}

const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, defaults: true });
const loaded = grpc.loadPackageDefinition(definition) as AnyCall;
export const EchoService = loaded.gatehouse.test.Echo;

export async function startGrpcServer(behaviour: EchoBehaviour = {}): Promise<TestGrpcServer> {
  const server = new grpc.Server();
  const metadata: grpc.Metadata[] = [];
  const health = { serving: true };
  const streamed = { written: 0 };
  server.addService(HEALTH_SERVICE, {
    Check(_call: AnyCall, callback: grpc.sendUnaryData<Buffer>) {
      callback(null, healthCheckResponse(health.serving));
    },
  });
  server.addService(EchoService.service, {
    Unary(call: AnyCall, callback: grpc.sendUnaryData<Msg>) {
      metadata.push(call.metadata);
      if (behaviour.unary) return behaviour.unary(call, callback);
      callback(null, call.request);
    },
    ServerStream(call: AnyCall) {
      metadata.push(call.metadata);
      if (behaviour.serverStream) return behaviour.serverStream(call);
      writeStream(call, call.request.count, call.request.size, streamed);
    },
    ClientStream(call: AnyCall, callback: grpc.sendUnaryData<Msg>) {
      metadata.push(call.metadata);
      const parts: Buffer[] = [];
      let count = 0;
      call.on('data', (msg: Msg) => {
        parts.push(msg.payload);
        count++;
      });
      call.on('end', () => callback(null, { payload: Buffer.concat(parts), text: String(count) }));
    },
    Bidi(call: AnyCall) {
      metadata.push(call.metadata);
      call.on('data', (msg: Msg) => call.write(msg));
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    metadata,
    health,
    streamed,
    server,
    close: () =>
      new Promise((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 2000).unref();
      }),
  };
}

/** Writes `count` messages of `size` bytes each (byte i of message n is (n + i) % 251), honouring backpressure. */
function writeStream(call: AnyCall, count: number, size: number, streamed: { written: number }): void {
  let n = 0;
  streamed.written = 0;
  const next = () => {
    while (n < count) {
      const ok = call.write({ payload: patterned(n, size), text: String(n) });
      n++;
      streamed.written = n;
      if (!ok) {
        call.once('drain', next);
        return;
      }
    }
    call.end();
  };
  next();
}

export function patterned(n: number, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (n + i) % 251;
  return out;
}

/** A client of the Echo service at host:port (no scheme), insecure (h2c) unless credentials are given. */
export function echoClient(
  address: string,
  credentials = grpc.credentials.createInsecure(),
  options: grpc.ChannelOptions = {},
): AnyCall {
  return new EchoService(address, credentials, options);
}

/** The host:port of a gateway or server URL. */
export function hostPort(url: string): string {
  return new URL(url).host;
}

export function unary(
  client: AnyCall,
  request: Partial<Msg>,
  options: { metadata?: grpc.Metadata; deadlineMs?: number } = {},
): Promise<{ response?: Msg; error?: grpc.ServiceError; trailers?: grpc.Metadata }> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | undefined;
    const call = client.Unary(
      request,
      options.metadata ?? new grpc.Metadata(),
      options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs },
      (error: grpc.ServiceError | null, response: Msg) =>
        // The status event (with trailers) may come after the callback.
        setImmediate(() =>
          resolve(error ? { error, trailers: trailers ?? error.metadata } : { response, trailers }),
        ),
    );
    call.on('status', (status: grpc.StatusObject) => {
      trailers = status.metadata;
    });
  });
}

/** A unary call to any path, with raw bytes in and out: for methods no client stub names. */
export function rawUnary(
  address: string,
  path: string,
  body: Buffer = Buffer.alloc(0),
): Promise<grpc.ServiceError | Buffer> {
  const Client = grpc.makeGenericClientConstructor({}, 'Raw');
  const client = new Client(address, grpc.credentials.createInsecure());
  return new Promise((resolve) =>
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      body,
      (error: grpc.ServiceError | null, response?: Buffer) => {
        client.close();
        resolve(error ?? response ?? Buffer.alloc(0));
      },
    ),
  );
}

export { grpc };

export interface RawGrpcEcho {
  readonly url: string;
  /** Every HTTP/2 session (connection) the server accepted, in order. */
  readonly sessions: ServerHttp2Session[];
  /** Calls whose answer waits until release() (the request bytes are read first). */
  hold: boolean;
  release(): void;
  /**
   * The next call is refused unprocessed: GOAWAY naming the stream before it as the last
   * processed, and the stream reset with REFUSED_STREAM (RFC 9113 6.8: safe to retry).
   */
  refuseNext: boolean;
  /** Calls the server has received. */
  readonly received: { count: number };
  /** The request headers of every call received, in order (grpc-js servers hide grpc-timeout). */
  readonly headers: IncomingHttpHeaders[];
  /** Sends GOAWAY (NO_ERROR) on a session, naming the last stream it received as processed. */
  goaway(session: ServerHttp2Session): void;
  close(): Promise<void>;
}

/**
 * A gRPC server on bare node:http2 that echoes each unary request's length-prefixed
 * message as the answer, grpc-status 0. Unlike grpc-js it hands the test its HTTP/2
 * sessions, so a test can send GOAWAY at a moment of its choosing.
 */
export async function startRawGrpcEcho(): Promise<RawGrpcEcho> {
  const server = createServer();
  const sessions: ServerHttp2Session[] = [];
  const held: Array<() => void> = [];
  const received = { count: 0 };
  const headers: IncomingHttpHeaders[] = [];
  const lastStreamId = new Map<ServerHttp2Session, number>();
  server.on('session', (session) => sessions.push(session));
  server.on('stream', (stream, requestHeaders) => {
    received.count++;
    headers.push(requestHeaders);
    const session = stream.session as ServerHttp2Session;
    stream.on('error', () => {});
    if (echo.refuseNext) {
      echo.refuseNext = false;
      session.goaway(constants.NGHTTP2_NO_ERROR, (stream.id ?? 1) - 2);
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    lastStreamId.set(session, Math.max(lastStreamId.get(session) ?? 0, stream.id ?? 0));
    const parts: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => parts.push(chunk));
    stream.on('end', () => {
      const answer = () => {
        if (stream.destroyed) return;
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(Buffer.concat(parts));
      };
      if (echo.hold) held.push(answer);
      else answer();
    });
    stream.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const echo: RawGrpcEcho = {
    url: `http://127.0.0.1:${port}`,
    sessions,
    hold: false,
    refuseNext: false,
    received,
    headers,
    goaway(session) {
      session.goaway(constants.NGHTTP2_NO_ERROR, lastStreamId.get(session) ?? 0);
    },
    release() {
      for (const answer of held.splice(0)) answer();
    },
    close: () =>
      new Promise((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  };
  return echo;
}
