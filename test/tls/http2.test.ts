// HTTP/2 at the edge, through node:http2 clients: the same request over h2 and
// HTTP/1.1 reaches the upstream identically and logs alike; bodies stream and meet
// body_limit; :authority and Host must agree; connection-specific headers never cross;
// the rapid-reset pattern (CVE-2023-44487) ends in GOAWAY; limits are advertised; a
// drain sends GOAWAY while the open stream finishes.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { constants } from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { createPki, opensslUnavailableReason, requireOpenssl, type TestPki } from '../helpers/pki.ts';
import { h2Request, h2Session, sendTls, tlsAgent } from '../helpers/tls-client.ts';
import { echoHandler, startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let pki: TestPki;
let upstream: TestUpstream;
let gw: TestGateway;
const hasOpenssl = opensslUnavailableReason() === undefined;

before(async () => {
  upstream = await startUpstream((req, res, body) => {
    if (req.url?.startsWith('/api/slow')) {
      setTimeout(() => echoHandler(req, res, body), 400);
      return;
    }
    echoHandler(req, res, body);
  });
  if (!hasOpenssl) return;
  pki = createPki();
  const cert = pki.issue('h2', { sans: ['localhost'] });
  gw = await startTestGateway({
    server: {
      tls: { certificates: [{ cert_file: cert.certFile, key_file: cert.keyFile }] },
      body_limit: '1kb',
      http2_max_concurrent_streams: 50,
      http2_max_resets: 20,
      max_header_size: '8kb',
    },
    services: { echo: { url: upstream.url } },
    routes: [{ path: '/api', service: 'echo' }],
  });
});

after(async () => {
  await gw?.close();
  await upstream.close();
  pki?.remove();
});

const client = () => ({ ca: pki.ca, servername: 'localhost' });

/** What the upstream saw, minus what differs per request by design (its trace span). */
function upstreamView(index: number) {
  const { method, url, headers, body } = upstream.requests[index];
  const { traceparent: _span, ...rest } = headers;
  return { method, url, headers: rest, body: body.toString() };
}

describe('HTTP/2 and HTTP/1.1 on one port', () => {
  test('the same request over h2 and HTTP/1.1: identical upstream view, equivalent access logs', async (t) => {
    if (!requireOpenssl(t)) return;
    const body = JSON.stringify({ hello: 'world' });
    const headers = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'x-custom': 'one',
      authorization: 'Bearer abc',
    };
    const agent = tlsAgent(client());
    const h1 = await sendTls(`${gw.url}/api/items?x=1`, agent, {
      method: 'POST',
      headers: { ...headers, 'x-request-id': 'same-req' },
      body,
    });
    await agent.close();
    const h1View = upstreamView(upstream.requests.length - 1);

    const session = await h2Session(gw.url, client());
    const h2 = await h2Request(
      session,
      {
        ':method': 'POST',
        ':path': '/api/items?x=1',
        // What undici sends as Host for the same URL.
        ':authority': new URL(gw.url).host,
        ...headers,
        'x-request-id': 'same-req',
        te: 'trailers',
      },
      body,
    );
    session.close();
    const h2View = upstreamView(upstream.requests.length - 1);

    assert.equal(h1.status, 200);
    assert.equal(h2.status, 200);
    assert.deepEqual(h2View, h1View);
    for (const name of Object.keys(h2View.headers)) {
      assert.ok(!name.startsWith(':'), `pseudo-header ${name} reached the upstream`);
      assert.ok(!['keep-alive', 'te', 'transfer-encoding', 'upgrade'].includes(name), name);
    }
    // The gateway's own hop to the upstream is HTTP/1.1 keep-alive; nothing of the client's connection.
    assert.equal(h2View.headers.connection, 'keep-alive');
    assert.equal(h2View.headers['x-forwarded-proto'], 'https');
    assert.equal(h2.headers['x-request-id'], 'same-req');
    assert.equal(h2.headers.connection, undefined);

    const lines = gw.logs().filter((l) => l.msg === 'request' && l.request_id === 'same-req');
    assert.equal(lines.length, 2);
    const comparable = (line: Record<string, unknown>) => {
      const { time: _t, duration_ms: _d, upstream_ms: _u, trace_id: _tr, http_version: _v, ...rest } = line;
      return rest;
    };
    assert.deepEqual(comparable(lines[1]), comparable(lines[0]));
    assert.equal(lines[1].http_version, '2.0');
  });

  test('h2: a streamed body without content-length is forwarded, and one over body_limit gets 413', async (t) => {
    if (!requireOpenssl(t)) return;
    const session = await h2Session(gw.url, client());
    try {
      const small = await h2Request(
        session,
        { ':method': 'PUT', ':path': '/api/upload' },
        Buffer.alloc(700, 'a'),
      );
      assert.equal(small.status, 200);
      assert.equal(small.json<{ bodyLength: number }>().bodyLength, 700);
      const large = await h2Request(
        session,
        { ':method': 'PUT', ':path': '/api/upload' },
        Buffer.alloc(4096, 'b'),
      );
      assert.equal(large.status, 413);
      assert.equal(large.json<{ error: { code: string } }>().error.code, 'PAYLOAD_TOO_LARGE');
      // Gateway errors over h2 are the same JSON errors.
      const missing = await h2Request(session, { ':method': 'GET', ':path': '/nowhere' });
      assert.equal(missing.status, 404);
      assert.equal(missing.json<{ error: { code: string } }>().error.code, 'ROUTE_NOT_FOUND');
    } finally {
      session.close();
    }
  });

  test(':authority and a different Host are refused with 400, never routed', async (t) => {
    if (!requireOpenssl(t)) return;
    const session = await h2Session(gw.url, client());
    try {
      const before = upstream.requests.length;
      const mismatch = await h2Request(session, {
        ':method': 'GET',
        ':path': '/api/x',
        ':authority': 'localhost',
        host: 'evil.example',
      });
      assert.equal(mismatch.status, 400);
      assert.equal(upstream.requests.length, before);
    } finally {
      session.close();
    }
  });

  test('advertises the stream and header-list limits; an oversized header list never reaches the upstream', async (t) => {
    if (!requireOpenssl(t)) return;
    const session = await h2Session(gw.url, client());
    try {
      assert.equal(session.remoteSettings.maxConcurrentStreams, 50);
      assert.equal(session.remoteSettings.maxHeaderListSize, 8192);
      const before = upstream.requests.length;
      await assert.rejects(
        h2Request(session, { ':method': 'GET', ':path': '/api/big', 'x-big': 'x'.repeat(20_000) }),
      );
      assert.equal(upstream.requests.length, before);
    } finally {
      session.destroy();
    }
    // The gateway keeps serving.
    const next = await h2Session(gw.url, client());
    assert.equal((await h2Request(next, { ':method': 'GET', ':path': '/api/after' })).status, 200);
    next.close();
  });

  test('rapid reset: a client that opens and cancels streams in a loop gets GOAWAY', async (t) => {
    if (!requireOpenssl(t)) return;
    const session = await h2Session(gw.url, client());
    const goaway = once(session, 'goaway') as Promise<[number]>;
    session.on('error', () => {});
    let opened = 0;
    // Bounded: far more than http2_max_resets (20), far fewer than a real flood.
    for (; opened < 500 && !session.destroyed && !session.closed; opened++) {
      const stream = session.request({ ':method': 'GET', ':path': '/api/slow' });
      stream.on('error', () => {});
      stream.close(constants.NGHTTP2_CANCEL);
      if (opened % 10 === 9) await sleep(5);
    }
    const [code] = await goaway;
    assert.equal(code, constants.NGHTTP2_ENHANCE_YOUR_CALM);
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /gatehouse_http2_rapid_reset_total [1-9]/);
    session.destroy();
    // Other clients are still served.
    const fresh = await h2Session(gw.url, client());
    assert.equal((await h2Request(fresh, { ':method': 'GET', ':path': '/api/ok' })).status, 200);
    fresh.close();
  });
});

test('drain: an open h2 connection gets GOAWAY and its in-flight stream finishes', async (t) => {
  if (!requireOpenssl(t)) return;
  const cert = pki.issue('drain', { sans: ['localhost'] });
  const draining = await startTestGateway({
    server: {
      tls: { certificates: [{ cert_file: cert.certFile, key_file: cert.keyFile }] },
      shutdown_timeout: '5s',
    },
    services: { echo: { url: upstream.url } },
    routes: [{ path: '/api', service: 'echo' }],
  });
  const session = await h2Session(draining.url, client());
  const goaway = once(session, 'goaway');
  const slow = h2Request(session, { ':method': 'GET', ':path': '/api/slow' });
  await sleep(100);
  const stopped = draining.close();
  await goaway;
  const answer = await slow;
  assert.equal(answer.status, 200);
  await stopped;
  session.destroy();
});
