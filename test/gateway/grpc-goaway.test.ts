// An instance that sends GOAWAY (a graceful restart, a max connection age): the
// gateway's HTTP/2 session to it is replaced, the call under way on the old session
// finishes there, and calls made after the GOAWAY go to a new session without failing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { echoClient, hostPort, type RawGrpcEcho, startRawGrpcEcho, unary } from '../helpers/grpc.ts';

describe('gRPC upstream GOAWAY', () => {
  let upstream: RawGrpcEcho;
  let gw: TestGateway;
  // biome-ignore lint/suspicious/noExplicitAny: grpc-js client
  let client: any;

  before(async () => {
    upstream = await startRawGrpcEcho();
    gw = await startTestGateway({
      services: { echo: { url: upstream.url, http2: true } },
      routes: [{ path: '/gatehouse.test.Echo', service: 'echo', grpc: true }],
    });
    client = echoClient(hostPort(gw.url));
  });

  after(async () => {
    client?.close();
    await gw?.close();
    await upstream?.close();
  });

  it('replaces the session, lets the call under way finish and fails none of the later calls', async () => {
    const first = await unary(client, { text: 'first' });
    assert.equal(first.error, undefined);
    assert.equal(first.response?.text, 'first');
    assert.equal(upstream.sessions.length, 1);

    // A call the instance has received and not yet answered when it sends GOAWAY.
    upstream.hold = true;
    const before = upstream.received.count;
    const underway = unary(client, { text: 'under way' });
    for (let i = 0; i < 200 && upstream.received.count === before; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(upstream.received.count, before + 1, 'the held call reached the instance');
    upstream.goaway(upstream.sessions[0]);
    upstream.hold = false;
    // Let the GOAWAY reach the gateway before the next calls, as it would in a restart.
    await new Promise((resolve) => setTimeout(resolve, 100));

    const later = await Promise.all(
      Array.from({ length: 8 }, (_, n) => unary(client, { text: `after ${n}` })),
    );
    for (const [n, result] of later.entries()) {
      assert.equal(result.error, undefined, `call ${n} after the GOAWAY failed: ${result.error?.message}`);
      assert.equal(result.response?.text, `after ${n}`);
    }
    assert.equal(upstream.sessions.length, 2, 'the calls after the GOAWAY went over one new session');

    upstream.release();
    const held = await underway;
    assert.equal(held.error, undefined, `the call under way failed: ${held.error?.message}`);
    assert.equal(held.response?.text, 'under way');

    const again = await unary(client, { text: 'again' });
    assert.equal(again.error, undefined);
    assert.equal(upstream.sessions.length, 2, 'the new session is reused');
  });

  it('retries on a new session a call the instance refused unprocessed in its GOAWAY', async () => {
    const warm = await unary(client, { text: 'warm' });
    assert.equal(warm.error, undefined);
    const sessionsBefore = upstream.sessions.length;
    upstream.refuseNext = true;
    const refused = await unary(client, { text: 'refused once' });
    assert.equal(refused.error, undefined, `the refused call failed: ${refused.error?.message}`);
    assert.equal(refused.response?.text, 'refused once');
    assert.equal(upstream.sessions.length, sessionsBefore + 1, 'the retry went over a new session');
  });
});
