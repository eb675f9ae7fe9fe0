// gRPC outcomes as the gateway's resilience sees them, with a real @grpc/grpc-js client
// through the gateway: which upstream statuses count against the circuit breaker, and
// the deadline the upstream is handed (grpc-timeout, reduced by the time already spent).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AuthStub, startAuthStub } from '../helpers/auth-stub.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import {
  echoClient,
  grpc,
  hostPort,
  type RawGrpcEcho,
  rawUnary,
  startGrpcServer,
  startRawGrpcEcho,
  type TestGrpcServer,
  unary,
} from '../helpers/grpc.ts';

// Small windows so a handful of calls decide; the open state outlasts the test.
const BREAKER = { min_requests: 3, failure_ratio: 0.5, interval: '10s', timeout: '30s', max_requests: 1 };
const CALLS = 8;
const AUTH_DELAY_MS = 300;

/** A gRPC server whose Unary always answers `code` (an application error, not a transport one). */
function failingServer(code: grpc.status): Promise<TestGrpcServer> {
  return startGrpcServer({
    unary(_call, callback) {
      callback({ code, details: `always ${grpc.status[code]}` });
    },
  });
}

describe('gRPC and the circuit breaker', () => {
  let notFound: TestGrpcServer;
  let unavailable: TestGrpcServer;
  let gw: TestGateway;
  let address: string;

  before(async () => {
    notFound = await failingServer(grpc.status.NOT_FOUND);
    unavailable = await failingServer(grpc.status.UNAVAILABLE);
    // One instance per service, each behind its own route prefix (stripped, so each
    // upstream sees /gatehouse.test.Echo/Unary): the two breakers never share a call.
    gw = await startTestGateway({
      services: {
        missing: { url: notFound.url, http2: true, circuit_breaker: BREAKER },
        down: { url: unavailable.url, http2: true, circuit_breaker: BREAKER },
      },
      routes: [
        { path: '/missing', service: 'missing', grpc: true, strip_prefix: true },
        { path: '/down', service: 'down', grpc: true, strip_prefix: true },
      ],
    });
    address = hostPort(gw.url);
  });

  after(async () => {
    await gw?.close();
    await notFound?.close();
    await unavailable?.close();
  });

  it('does not trip on application statuses such as NOT_FOUND', async () => {
    for (let i = 0; i < CALLS; i++) {
      const answer = await rawUnary(address, '/missing/gatehouse.test.Echo/Unary');
      assert.ok(answer instanceof Error, 'the call fails');
      assert.equal(
        (answer as grpc.ServiceError).code,
        grpc.status.NOT_FOUND,
        (answer as grpc.ServiceError).details,
      );
      assert.match((answer as grpc.ServiceError).details, /always NOT_FOUND/);
    }
    // Every call reached the upstream: the breaker stayed closed.
    assert.equal(notFound.metadata.length, CALLS);
  });

  it('trips on UNAVAILABLE, then answers UNAVAILABLE itself without calling the upstream', async () => {
    // min_requests failures in a row trip it (ratio 1 >= 0.5).
    for (let i = 0; i < BREAKER.min_requests; i++) {
      const answer = await rawUnary(address, '/down/gatehouse.test.Echo/Unary');
      assert.ok(answer instanceof Error);
      assert.equal((answer as grpc.ServiceError).code, grpc.status.UNAVAILABLE);
      assert.match((answer as grpc.ServiceError).details, /always UNAVAILABLE/, 'answered by the upstream');
    }
    const hits = unavailable.metadata.length;
    assert.equal(hits, BREAKER.min_requests);
    for (let i = 0; i < 3; i++) {
      const answer = await rawUnary(address, '/down/gatehouse.test.Echo/Unary');
      assert.ok(answer instanceof Error);
      assert.equal((answer as grpc.ServiceError).code, grpc.status.UNAVAILABLE);
      assert.doesNotMatch(
        (answer as grpc.ServiceError).details,
        /always UNAVAILABLE/,
        'answered by the gateway',
      );
      assert.match((answer as grpc.ServiceError).details, /request id/);
    }
    assert.equal(unavailable.metadata.length, hits, 'the open breaker kept the calls from the upstream');
  });
});

describe('gRPC deadline forwarding', () => {
  let upstream: RawGrpcEcho;
  let gw: TestGateway;
  // biome-ignore lint/suspicious/noExplicitAny: grpc-js client
  let client: any;

  let stub: AuthStub;

  before(async () => {
    upstream = await startRawGrpcEcho();
    // The verify call spends part of the client's deadline before the call is forwarded.
    stub = await startAuthStub({ tokens: { good: { user_id: 'u-1' } }, answerDelayMs: AUTH_DELAY_MS });
    gw = await startTestGateway({
      services: { echo: { url: upstream.url, http2: true } },
      auth: { mode: 'remote', verify_url: stub.verifyUrl },
      routes: [{ path: '/gatehouse.test.Echo', service: 'echo', grpc: true, auth: 'required' }],
    });
    client = echoClient(hostPort(gw.url));
  });

  after(async () => {
    client?.close();
    await gw?.close();
    await upstream?.close();
    await stub?.close();
  });

  it('hands the upstream the time left of the client deadline as grpc-timeout', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', 'Bearer good');
    const { response, error } = await unary(client, { text: 'deadline' }, { metadata, deadlineMs: 5000 });
    assert.equal(error, undefined);
    assert.equal(response?.text, 'deadline');
    assert.equal(upstream.headers.length, 1);
    const forwarded = upstream.headers[0]?.['grpc-timeout'];
    assert.equal(typeof forwarded, 'string', 'the upstream received a grpc-timeout');
    const ms = grpcTimeoutMs(forwarded as string);
    assert.ok(ms > 0, `forwarded grpc-timeout ${forwarded} is positive`);
    // The auth answer alone took AUTH_DELAY_MS of the 5 s, so what is left is at most the rest.
    assert.ok(ms <= 5000 - AUTH_DELAY_MS, `forwarded grpc-timeout ${forwarded} is reduced by the time spent`);
  });
});

/** A grpc-timeout value (1 to 8 digits and a unit: H M S m u n) in milliseconds. */
function grpcTimeoutMs(value: string): number {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  assert.ok(match, `grpc-timeout ${value} is well formed`);
  const perUnit: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };
  return Number(match[1]) * (perUnit[match[2] as string] as number);
}
