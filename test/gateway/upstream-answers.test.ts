// Upstream answers node:http would never write, from an upstream that writes raw bytes:
// bodiless answers that carry a Content-Length, unsolicited interim answers, answers
// that break after their status line, and transfer codings other than chunked.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { metricValue, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { rawExchange, send } from '../helpers/http.ts';
import { until } from '../helpers/until.ts';
import { type RawUpstream, startRawUpstream, startUpstream } from '../helpers/upstream.ts';

const zipped = gzipSync(Buffer.from('hello, coded world'));

/** The answer for each path; the test's raw upstream writes these bytes as they are. */
const answers: Record<string, (socket: Socket) => void> = {
  '/not-modified': (s) => s.write('HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 42\r\n\r\n'),
  '/no-content': (s) => s.write('HTTP/1.1 204 No Content\r\nContent-Length: 42\r\n\r\n'),
  '/ok': (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
  '/continue': (s) =>
    s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nonce'),
  '/continue-in-pieces': (s) => {
    // Split inside the status line and again before the final answer, two 100s and a 103.
    const pieces = [
      'HTTP/1.1 10',
      '0 Continue\r\n',
      '\r\nHTTP/1.0 100 Continue\r\nX-Note: again\r\n\r\n',
      'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 201 Created\r\n',
      'Content-Length: 6\r\n\r\npieces',
    ];
    for (const [i, piece] of pieces.entries()) setTimeout(() => s.write(piece), i * 30);
  },
  '/verify-continue': (s) =>
    s.write(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{"user_id":"u-1"}',
    ),
  '/body-like-continue': (s) =>
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 25\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n'),
  '/cut-mid-body': (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
    setTimeout(() => s.destroy(), 50);
  },
  '/cut-after-head': (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n');
    setTimeout(() => s.destroy(), 50);
  },
  '/bad-chunk': (s) => s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'),
  '/gzip-coded': (s) => {
    s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n');
    s.write(`${zipped.length.toString(16)}\r\n`);
    s.write(zipped);
    s.write('\r\n0\r\n\r\n');
  },
};

let upstream: RawUpstream;
let gw: TestGateway;

before(async () => {
  upstream = await startRawUpstream((socket, head) => {
    const path = head.split(' ')[1];
    answers[path]?.(socket);
  });
  gw = await startTestGateway({
    services: { raw: { url: upstream.url, timeout: '2s' } },
    routes: [{ path: '/', service: 'raw' }],
  });
});

after(async () => {
  await gw.close();
  await upstream.close();
});

/** Two requests on one keep-alive connection; resolves with everything read once the second is answered. */
async function twoOnOneConnection(first: string): Promise<string> {
  const { port } = new URL(gw.url);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.write(`GET ${first} HTTP/1.1\r\nHost: gw\r\n\r\n`);
  await until(() => text.includes('\r\n\r\n'), 'the first answer');
  socket.write('GET /ok HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n');
  await Promise.race([once(socket, 'close'), until(() => false, 'never').catch(() => undefined)]);
  socket.destroy();
  return text;
}

test('a 304 with a Content-Length reaches the client without a body, and the connection stays usable', async () => {
  const text = await twoOnOneConnection('/not-modified');
  assert.match(text, /^HTTP\/1\.1 304 Not Modified\r\n/);
  assert.match(text, /etag: "v1"/i);
  const [, second] = text.split(/(?=HTTP\/1\.1 200)/);
  assert.ok(second, `the second request on the connection was answered: ${text}`);
  assert.match(second, /\r\n\r\nok$/);
});

test('a 204 with a Content-Length reaches the client as a plain 204, and the connection stays usable', async () => {
  const text = await twoOnOneConnection('/no-content');
  assert.match(text, /^HTTP\/1\.1 204 No Content\r\n/);
  const [first, second] = text.split(/(?=HTTP\/1\.1 200)/);
  assert.doesNotMatch(first, /content-length/i, 'a 204 carries no Content-Length');
  assert.ok(second, `the second request on the connection was answered: ${text}`);
  assert.match(second, /\r\n\r\nok$/);
});

test('unsolicited 100 Continue answers are skipped, in one piece or split, and the connection stays usable', async () => {
  const text = await twoOnOneConnection('/continue');
  assert.match(text, /^HTTP\/1\.1 200 OK\r\n/, 'the client sees the final answer first');
  assert.doesNotMatch(text, / 100 /);
  assert.match(text, /\r\n\r\nonce(?=HTTP)/);
  assert.match(text, /\r\n\r\nok$/, 'the next request on the connection is answered');

  const pieces = await rawExchange(
    gw.url,
    'GET /continue-in-pieces HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n',
  );
  assert.match(pieces, /^HTTP\/1\.1 201 Created\r\n/);
  assert.ok(pieces.endsWith('\r\n\r\npieces'), pieces);
});

test('a POST whose upstream sends 100 Continue before reading the body gets the final answer', async () => {
  const continuing = await startUpstream((_req, res, body) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`got ${body.length}`);
  });
  // node:http writes the 100 only when asked: ask on every request, before the body is read.
  continuing.server.prependListener('request', (_req, res) => res.writeContinue());
  const gateway = await startTestGateway({
    services: { continuing: { url: continuing.url } },
    routes: [{ path: '/', service: 'continuing' }],
  });
  try {
    for (let i = 0; i < 3; i++) {
      const answer = await send(`${gateway.url}/upload`, { method: 'POST', body: Buffer.alloc(100_000, 1) });
      assert.equal(answer.status, 200);
      assert.equal(answer.body.toString(), 'got 100000');
    }
  } finally {
    await gateway.close();
    await continuing.close();
  }
});

test('health probes and auth service calls skip an unsolicited 100 Continue too', async () => {
  const gateway = await startTestGateway({
    services: {
      raw: {
        url: upstream.url,
        timeout: '2s',
        health_check: { path: '/continue', interval: '1s', timeout: '1s' },
      },
    },
    auth: { mode: 'remote', verify_url: `${upstream.url}/verify-continue` },
    routes: [{ path: '/', service: 'raw', auth: 'required' }],
  });
  try {
    const probes = () => upstream.heads.filter((head) => head.startsWith('GET /continue ')).length;
    const before = probes();
    await until(() => probes() >= before + 2, 'two health probes');
    assert.equal(
      await metricValue(gateway, 'gatehouse_upstream_up', { service: 'raw', instance: upstream.url }),
      1,
      'the instance stays in rotation',
    );
    const answer = await send(`${gateway.url}/ok`, { headers: { authorization: 'Bearer t' } });
    assert.equal(answer.status, 200, 'verified through an answer that began with a 100');
    assert.equal(answer.body.toString(), 'ok');
  } finally {
    await gateway.close();
  }
});

test('bytes that look like a 100 inside a body are body, not skipped', async () => {
  const answer = await rawExchange(
    gw.url,
    'GET /body-like-continue HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n',
  );
  assert.ok(answer.endsWith('\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n'), answer);
});

test('an answer cut after its first bytes is the upstream fault: 502 in the access log and the metrics, with a log line', async () => {
  const before = await metricValue(gw, 'gatehouse_requests_total', {
    route: '/',
    method: 'GET',
    status: '502',
  });
  const answer = await rawExchange(gw.url, 'GET /cut-mid-body HTTP/1.1\r\nHost: gw\r\n\r\n');
  assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(answer.endsWith('partial'), 'the client got what there was, then the connection was cut');
  await until(
    () => gw.logs().some((line) => line.path === '/cut-mid-body' && line.msg === 'request'),
    'the access line',
  );
  const access = gw.logs().find((line) => line.path === '/cut-mid-body' && line.msg === 'request');
  assert.equal(access?.status, 502);
  assert.ok(
    gw.logs().some((line) => line.level === 'warn' && line.request_id === access?.request_id),
    'a warning names the broken answer',
  );
  assert.equal(
    await metricValue(gw, 'gatehouse_requests_total', { route: '/', method: 'GET', status: '502' }),
    before + 1,
  );
  assert.equal(
    await metricValue(gw, 'gatehouse_requests_total', { route: '/', method: 'GET', status: '499' }),
    0,
  );
});

test('an answer that breaks before any byte reached the client is a JSON 502, not an empty close', async () => {
  for (const path of ['/cut-after-head', '/bad-chunk']) {
    const answer = await rawExchange(gw.url, `GET ${path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`);
    assert.match(answer, /^HTTP\/1\.1 502/, path);
    assert.match(answer, /"code":"BAD_GATEWAY"/, path);
  }
});

test('a response coding other than chunked is passed on with its Transfer-Encoding', async () => {
  const { port } = new URL(gw.url);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.write('GET /gzip-coded HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n');
  await once(socket, 'close');
  const raw = Buffer.concat(chunks);
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, split).toString('latin1');
  assert.match(head, /^HTTP\/1\.1 200/);
  assert.match(head, /\r\ntransfer-encoding: gzip, chunked\r\n/i);
  // Undo the chunked framing, then the gzip coding: the client gets the meaning intact.
  let body = raw.subarray(split + 4);
  const decoded: Buffer[] = [];
  for (;;) {
    const lineEnd = body.indexOf('\r\n');
    const size = Number.parseInt(body.subarray(0, lineEnd).toString(), 16);
    if (size === 0) break;
    decoded.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    body = body.subarray(lineEnd + 2 + size + 2);
  }
  assert.equal(gunzipSync(Buffer.concat(decoded)).toString(), 'hello, coded world');
});
