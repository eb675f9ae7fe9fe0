// gRPC through the gateway with a real @grpc/grpc-js client and server, over h2c
// (prior knowledge on the plain listener) to the gateway and h2c to the instance.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, constants } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { type AuthStub, startAuthStub } from '../helpers/auth-stub.ts';
import { metricValue, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import {
  echoClient,
  grpc,
  hostPort,
  type Msg,
  patterned,
  rawUnary,
  startGrpcServer,
  type TestGrpcServer,
  unary,
} from '../helpers/grpc.ts';
import { refusedPort } from '../helpers/upstream.ts';

const ROUTE = '/gatehouse.test.Echo';

describe('gRPC over h2c', () => {
  let upstream: TestGrpcServer;
  let gw: TestGateway;
  // biome-ignore lint/suspicious/noExplicitAny: grpc-js client
  let client: any;
  let deadPort: number;

  before(async () => {
    upstream = await startGrpcServer({
      unary(call, callback) {
        const text: string = call.request.text;
        if (text === 'not-found') {
          const trailer = new grpc.Metadata();
          trailer.set('x-detail', 'no such thing');
          callback({ code: grpc.status.NOT_FOUND, details: 'nothing here', metadata: trailer });
          return;
        }
        if (text === 'trailers') {
          const trailer = new grpc.Metadata();
          trailer.set('x-cost', '42');
          trailer.set('x-bin-bin', Buffer.from([0, 1, 2, 255]));
          callback(null, call.request, trailer);
          return;
        }
        if (text === 'metadata') {
          callback(null, {
            payload: Buffer.alloc(0),
            text: JSON.stringify({
              custom: call.metadata.get('x-custom'),
              userId: call.metadata.get('x-user-id'),
              requestId: call.metadata.get('x-request-id'),
            }),
          });
          return;
        }
        if (text.startsWith('slow')) {
          setTimeout(() => callback(null, call.request), 3000).unref();
          return;
        }
        callback(null, call.request);
      },
    });
    deadPort = await refusedPort();
    gw = await startTestGateway({
      services: {
        echo: { url: upstream.url, http2: true },
        dead: { url: `http://127.0.0.1:${deadPort}`, http2: true },
      },
      routes: [
        { path: ROUTE, service: 'echo', grpc: true },
        { path: '/gatehouse.dead.Echo', service: 'dead', grpc: true, strip_prefix: false },
      ],
    });
    client = echoClient(hostPort(gw.url));
  });

  after(async () => {
    client?.close();
    await gw?.close();
    await upstream?.close();
  });

  it('proxies a unary call byte for byte', async () => {
    const payload = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 256));
    const { response, error } = await unary(client, { payload, text: 'hello' });
    assert.equal(error, undefined);
    assert.ok(response);
    assert.deepEqual(response.payload, payload);
    assert.equal(response.text, 'hello');
  });

  it('streams from the server', async () => {
    const call = client.ServerStream({ count: 50, size: 1000 });
    const got: Msg[] = [];
    for await (const msg of call) got.push(msg);
    assert.equal(got.length, 50);
    for (const [n, msg] of got.entries()) assert.deepEqual(msg.payload, patterned(n, 1000));
  });

  it('streams from the client', async () => {
    const parts = Array.from({ length: 30 }, (_, n) => patterned(n, 2000));
    const response = await new Promise<Msg>((resolve, reject) => {
      const call = client.ClientStream((error: Error | null, msg: Msg) =>
        error ? reject(error) : resolve(msg),
      );
      for (const payload of parts) call.write({ payload });
      call.end();
    });
    assert.equal(response.text, '30');
    assert.deepEqual(response.payload, Buffer.concat(parts));
  });

  it('streams both ways at once', async () => {
    const call = client.Bidi();
    const got: Buffer[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (msg: Msg) => {
        got.push(msg.payload);
        // Each answer arrives before the next message is sent: a true exchange.
        if (got.length < 20) call.write({ payload: patterned(got.length, 500) });
        else call.end();
      });
      call.on('end', resolve);
      call.on('error', reject);
    });
    call.write({ payload: patterned(0, 500) });
    await done;
    assert.equal(got.length, 20);
    for (const [n, payload] of got.entries()) assert.deepEqual(payload, patterned(n, 500));
  });

  it('hands the upstream status, message and custom trailers to the client', async () => {
    const { error } = await unary(client, { text: 'not-found' });
    assert.equal(error?.code, grpc.status.NOT_FOUND);
    assert.equal(error?.details, 'nothing here');
    assert.deepEqual(error?.metadata.get('x-detail'), ['no such thing']);

    const ok = await unary(client, { text: 'trailers' });
    assert.equal(ok.error, undefined);
    assert.deepEqual(ok.trailers?.get('x-cost'), ['42']);
    assert.deepEqual(ok.trailers?.get('x-bin-bin'), [Buffer.from([0, 1, 2, 255])]);
  });

  it('passes metadata upstream with the gateway headers', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-custom', 'abc');
    metadata.set('x-user-id', 'forged');
    const { response } = await unary(client, { text: 'metadata' }, { metadata });
    const seen = JSON.parse(response!.text);
    assert.deepEqual(seen.custom, ['abc']);
    assert.deepEqual(seen.userId, [], 'a client-sent identity header never reaches the upstream');
    assert.equal(seen.requestId.length, 1);
  });

  it('answers an unknown method UNIMPLEMENTED, trailers-only, with the request id', async () => {
    // No route serves this path: the request's content-type makes the 404 a gRPC status.
    const error = (await rawUnary(hostPort(gw.url), '/nowhere.Service/Method')) as grpc.ServiceError;
    assert.equal(error.code, grpc.status.UNIMPLEMENTED);
    assert.match(error.details, /request id [\w-]+/);
  });

  it('sends a gateway error as one HEADERS frame ending the stream (trailers-only), no body', async () => {
    const session = connect(gw.url);
    try {
      const stream = session.request({
        ':method': 'POST',
        ':path': '/nowhere.Service/Method',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      stream.end();
      const [headers, flags] = (await once(stream, 'response')) as [Record<string, string>, number];
      assert.ok(flags & constants.NGHTTP2_FLAG_END_STREAM, 'the response headers end the stream');
      assert.equal(headers[':status'], 200);
      assert.equal(headers['content-type'], 'application/grpc');
      assert.equal(headers['grpc-status'], '12');
      assert.match(headers['grpc-message'], /request id /);
      let bytes = 0;
      for await (const chunk of stream) bytes += (chunk as Buffer).length;
      assert.equal(bytes, 0);
    } finally {
      session.close();
    }
  });

  it('answers a service it cannot reach UNAVAILABLE', async () => {
    const error = (await rawUnary(hostPort(gw.url), '/gatehouse.dead.Echo/Unary')) as grpc.ServiceError;
    assert.equal(error.code, grpc.status.UNAVAILABLE);
  });

  it('ends a slow call DEADLINE_EXCEEDED near its grpc-timeout', async () => {
    const started = performance.now();
    const { error } = await unary(client, { text: 'slow' }, { deadlineMs: 400 });
    assert.equal(error?.code, grpc.status.DEADLINE_EXCEEDED);
    assert.ok(performance.now() - started < 2500, 'well before the upstream would have answered');
  });

  it('streams 10,000 messages with backpressure reaching the upstream', async () => {
    const call = client.ServerStream({ count: 10_000, size: 1000 });
    let received = 0;
    let ok = true;
    const done = new Promise<void>((resolve, reject) => {
      call.on('data', (msg: Msg) => {
        if (ok && !msg.payload.equals(patterned(received, 1000))) ok = false;
        received++;
        if (received === 1) {
          // A client that stops reading: the upstream must stop being able to write.
          call.pause();
          setTimeout(() => {
            stalled = upstream.streamed.written;
            call.resume();
          }, 500);
        }
      });
      call.on('end', resolve);
      call.on('error', reject);
    });
    let stalled = -1;
    await done;
    assert.equal(received, 10_000);
    assert.ok(ok, 'every message arrived intact and in order');
    assert.ok(
      stalled > 0 && stalled < 5000,
      `the upstream had written ${stalled} of 10000 while the client paused`,
    );
  });

  it('counts calls by grpc-status', async () => {
    await unary(client, { text: 'not-found' });
    assert.ok(
      (await metricValue(gw, 'gatehouse_grpc_responses_total', { route: ROUTE, grpc_status: '5' })) >= 1,
    );
    assert.ok(
      (await metricValue(gw, 'gatehouse_grpc_responses_total', { route: ROUTE, grpc_status: '0' })) >= 1,
    );
  });

  it('logs the gRPC method and status', async () => {
    await unary(client, { text: 'log-me' });
    const line = gw
      .logs()
      .findLast((l) => l.msg === 'request' && l.grpc_method === '/gatehouse.test.Echo/Unary');
    assert.ok(line, 'an access-log line names the method');
    assert.equal(line.grpc_status, 0);
    assert.equal(line.http_version, '2.0');
  });
});

describe('gRPC policies: gateway errors as statuses the client decodes', () => {
  let upstream: TestGrpcServer;
  let stub: AuthStub;
  let gw: TestGateway;
  // biome-ignore lint/suspicious/noExplicitAny: grpc-js client
  let client: any;

  before(async () => {
    [upstream, stub] = await Promise.all([
      startGrpcServer({
        unary(call, callback) {
          callback(null, {
            payload: Buffer.alloc(0),
            text: JSON.stringify({
              user: call.metadata.get('x-user-id'),
              roles: call.metadata.get('x-user-roles'),
            }),
          });
        },
      }),
      startAuthStub({ tokens: { good: { user_id: 'u-7', roles: ['reader', 'ops'] } } }),
    ]);
    gw = await startTestGateway({
      services: { echo: { url: upstream.url, http2: true } },
      auth: { mode: 'remote', verify_url: stub.verifyUrl },
      rate_limit: { global: 0, per_client: 0.01, per_client_burst: 2 },
      routes: [{ path: ROUTE, service: 'echo', grpc: true, auth: 'required' }],
    });
    client = echoClient(hostPort(gw.url));
  });

  after(async () => {
    client?.close();
    await gw?.close();
    await Promise.all([upstream?.close(), stub?.close()]);
  });

  it('answers a missing token UNAUTHENTICATED, then identity reaches the upstream, then RESOURCE_EXHAUSTED', async () => {
    const anonymous = await unary(client, { text: 'x' });
    assert.equal(anonymous.error?.code, grpc.status.UNAUTHENTICATED);
    assert.match(anonymous.error?.details ?? '', /request id/);

    const metadata = new grpc.Metadata();
    metadata.set('authorization', 'Bearer good');
    const first = await unary(client, { text: 'x' }, { metadata });
    assert.equal(first.error, undefined);
    assert.deepEqual(JSON.parse(first.response!.text), { user: ['u-7'], roles: ['reader,ops'] });

    await unary(client, { text: 'x' }, { metadata });
    const limited = await unary(client, { text: 'x' }, { metadata });
    assert.equal(limited.error?.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.ok(limited.error?.metadata.get('retry-after').length === 1, 'Retry-After goes with the status');
  });
});

describe('gRPC health checks', () => {
  let upstream: TestGrpcServer;
  let gw: TestGateway;

  before(async () => {
    upstream = await startGrpcServer();
    gw = await startTestGateway({
      services: {
        echo: {
          url: upstream.url,
          http2: true,
          health_check: { type: 'grpc', interval: '100ms', timeout: '1s', retries: 1, max_backoff: '200ms' },
        },
      },
      routes: [{ path: ROUTE, service: 'echo', grpc: true }],
    });
  });

  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  async function upValue(): Promise<number> {
    return metricValue(gw, 'gatehouse_upstream_up', { service: 'echo', instance: upstream.url });
  }

  async function waitFor(expected: number): Promise<void> {
    for (let i = 0; i < 100 && (await upValue()) !== expected; i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal(await upValue(), expected);
  }

  it('takes an instance out when it stops SERVING and back when it serves again', async () => {
    await waitFor(1);
    upstream.health.serving = false;
    await waitFor(0);
    const client = echoClient(hostPort(gw.url));
    const { error } = await unary(client, { text: 'x' });
    assert.equal(error?.code, grpc.status.UNAVAILABLE);
    upstream.health.serving = true;
    await waitFor(1);
    const ok = await unary(client, { text: 'back' });
    assert.equal(ok.response?.text, 'back');
    client.close();
  });
});
