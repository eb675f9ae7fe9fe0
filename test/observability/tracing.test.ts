// OpenTelemetry spans through a real gateway: exported over OTLP/HTTP to a receiver on
// loopback, with the parent links an operator relies on: client -> server span ->
// auth and each upstream attempt -> the upstream's traceparent.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type AuthStub, startAuthStub } from '../helpers/auth-stub.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { type OtlpReceiver, startOtlpReceiver } from '../helpers/otlp-receiver.ts';
import { refusedPort, startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const SERVER = 2;
const CLIENT = 3;

let receiver: OtlpReceiver;
let auth: AuthStub;
let upstream: TestUpstream;
let gw: TestGateway;
let refusedUrl: string;

before(async () => {
  receiver = await startOtlpReceiver();
  auth = await startAuthStub({ tokens: { 'good-token': { user_id: 'alice', roles: ['reader'] } } });
  upstream = await startUpstream();
  refusedUrl = `http://127.0.0.1:${await refusedPort()}`;
  gw = await startTestGateway({
    tracing: { otlp_endpoint: receiver.url, sample_ratio: 1, service_name: 'edge-test' },
    auth: { mode: 'remote', verify_url: auth.verifyUrl },
    services: {
      // One instance refuses connections: a request sent there first fails over to the other.
      api: { urls: [refusedUrl, upstream.url], load_balancing: 'round_robin' },
      plain: { url: upstream.url },
    },
    routes: [
      { path: '/api', service: 'api', auth: 'required' },
      { path: '/plain', service: 'plain', auth: 'none' },
    ],
  });
});

after(async () => {
  await gw.close();
  await upstream.close();
  await auth.close();
  await receiver.close();
});

function traceparentFor(n: number): { header: string; traceId: string; spanId: string } {
  const traceId = `${n.toString(16).padStart(2, '0')}`.repeat(16);
  const spanId = 'ab'.repeat(8);
  return { header: `00-${traceId}-${spanId}-01`, traceId, spanId };
}

test('a request that called auth and failed over once: server, auth and two attempt spans, linked', async () => {
  // Round robin may start on either instance: send until one request went to the refusing one first.
  let chosen: ReturnType<typeof traceparentFor> | undefined;
  for (let n = 1; n <= 4 && !chosen; n++) {
    const trace = traceparentFor(n);
    const response = await send(`${gw.url}/api/items`, {
      headers: { authorization: 'Bearer good-token', traceparent: trace.header },
    });
    assert.equal(response.status, 200);
    const line = gw.logs().find((l) => l.msg === 'request' && l.trace_id === trace.traceId);
    if (line?.attempts === 2) chosen = trace;
  }
  assert.ok(chosen, 'one request was retried on the second instance');
  const { traceId, spanId: clientSpanId } = chosen;

  await receiver.waitFor((spans) => spans.filter((s) => s.traceId === traceId).length >= 4);
  const spans = receiver.spans.filter((s) => s.traceId === traceId);
  const server = spans.find((s) => s.kind === SERVER);
  assert.ok(server, 'a server span');
  assert.equal(server.parentSpanId, clientSpanId, 'the server span continues the client trace');
  assert.equal(server.name, 'GET /api');
  assert.equal(server.serviceName, 'edge-test');
  assert.equal(server.attributes['http.route'], '/api');
  assert.equal(server.attributes['http.response.status_code'], 200);
  assert.equal(server.attributes['client.address'], '127.0.0.1');
  assert.equal(server.attributes['user.id'], 'alice');

  const authSpan = spans.find((s) => s.name === 'policy auth');
  assert.ok(authSpan, 'a span for the auth call');
  assert.equal(authSpan.parentSpanId, server.spanId);

  const attempts = spans.filter((s) => s.kind === CLIENT);
  assert.equal(attempts.length, 2, 'one span per upstream attempt');
  for (const attempt of attempts) assert.equal(attempt.parentSpanId, server.spanId);
  const [failed, retried] = attempts[0].attributes['http.request.resend_count']
    ? [attempts[1], attempts[0]]
    : attempts;
  assert.equal(failed.status.code, 2, 'the refused attempt is an error');
  assert.equal(failed.attributes['server.port'], Number(new URL(refusedUrl).port));
  assert.equal(retried.attributes['http.request.resend_count'], 1);
  assert.equal(retried.attributes['http.response.status_code'], 200);

  // The upstream sees the same trace, with the successful attempt's span as its parent.
  const received = upstream.requests.find((r) => String(r.headers.traceparent).includes(traceId));
  assert.ok(received);
  assert.equal(received.headers.traceparent, `00-${traceId}-${retried.spanId}-01`);
  assert.equal(receiver.rejected, 0);
});

test('parent-based sampling: an unsampled client trace records nothing, a sampled one is kept', async () => {
  const unsampled = traceparentFor(0x31);
  const response = await send(`${gw.url}/plain`, {
    headers: { traceparent: unsampled.header.replace(/-01$/, '-00') },
  });
  assert.equal(response.status, 200);
  assert.equal(upstream.requests.at(-1)?.headers.traceparent?.toString().endsWith('-00'), true);
  const sampled = traceparentFor(0x32);
  await send(`${gw.url}/plain`, { headers: { traceparent: sampled.header } });
  await receiver.waitFor((spans) => spans.some((s) => s.traceId === sampled.traceId));
  assert.equal(receiver.spans.filter((s) => s.traceId === unsampled.traceId).length, 0);
});

test('exported spans are counted in the metrics', async () => {
  await receiver.waitFor((spans) => spans.length > 0);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const metrics = (await send(`${gw.adminUrl}/metrics`)).body.toString();
    const exported = /gatehouse_tracing_spans_total\{outcome="exported"\} (\d+)/.exec(metrics);
    if (exported && Number(exported[1]) > 0) break;
    assert.ok(Date.now() < deadline, `no exported count in:\n${metrics}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
});

test('a full export queue drops spans without slowing requests, and counts them', async () => {
  const slow = await startTestGateway({
    // Nothing listens at this endpoint's port: exports fail slowly while spans pile up.
    tracing: { otlp_endpoint: `http://127.0.0.1:${await refusedPort()}`, max_queue_size: 2 },
    services: { plain: { url: upstream.url } },
    routes: [{ path: '/plain', service: 'plain' }],
  });
  try {
    for (let i = 0; i < 20; i++) assert.equal((await send(`${slow.url}/plain`)).status, 200);
    const metrics = (await send(`${slow.adminUrl}/metrics`)).body.toString();
    const dropped = /gatehouse_tracing_spans_total\{outcome="dropped"\} (\d+)/.exec(metrics);
    assert.ok(dropped && Number(dropped[1]) > 0, `dropped spans counted:\n${metrics}`);
  } finally {
    await slow.close();
  }
});
