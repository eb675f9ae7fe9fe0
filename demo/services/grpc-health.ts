// grpc.health.v1.Health/Check for a grpc-js server, with its two tiny messages left as
// bytes: no health proto needed. The demo's greeter serves it for the gateway's gRPC
// health check; the tests' gRPC server (test/helpers/grpc.ts) serves the same.
const raw = (bytes: Buffer) => bytes;

export const HEALTH_SERVICE = {
  Check: {
    path: '/grpc.health.v1.Health/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  },
};

/** HealthCheckResponse { status: SERVING (1) } or { status: NOT_SERVING (2) }. */
export function healthCheckResponse(serving: boolean): Buffer {
  return Buffer.from([0x08, serving ? 1 : 2]);
}
