// Request heads the parser lets through but a gateway must not forward with two
// meanings: path parameters, Host, transfer codings, HTTP/1.0 framing, Expect, and the
// X-Forwarded-* headers. Raw sockets, so nothing is tidied by a client library.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { rawExchange, send } from '../helpers/http.ts';
import { echoHandler, refusedPort, startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let upstream: TestUpstream;
/** No trusted proxies: every peer is a client. */
let gw: TestGateway;
/** 127.0.0.1 is a trusted proxy: the tests play the proxy in front. */
let behindProxy: TestGateway;

before(async () => {
  upstream = await startUpstream();
  const services = {
    echo: { url: upstream.url },
    named: { url: upstream.url, pass_host: true },
  };
  const routes = [
    { path: '/app', service: 'echo', auth: 'none' },
    { path: '/app/admin', service: 'echo', auth: 'required' },
    { path: '/named', service: 'named', auth: 'none' },
  ];
  // No token is ever valid here: the auth policy answers 401 before calling the verifier.
  const auth = { mode: 'remote', verify_url: `http://127.0.0.1:${await refusedPort()}/verify` };
  gw = await startTestGateway({ server: { body_limit: '1kb' }, services, routes, auth });
  behindProxy = await startTestGateway({
    server: { trusted_proxies: ['127.0.0.1'] },
    services,
    routes,
    auth,
  });
});

after(async () => {
  await gw.close();
  await behindProxy.close();
  await upstream.close();
});

const lastUpstreamRequest = () => upstream.requests[upstream.requests.length - 1];

function get(target: string, extraHeaders = 'Host: gw\r\n'): string {
  return `GET ${target} HTTP/1.1\r\n${extraHeaders}Connection: close\r\n\r\n`;
}

test('a ; path parameter is refused with 400 before matching: /app/admin;x/secret never reaches /app', async () => {
  const before = upstream.requests.length;
  for (const target of ['/app/admin;x/secret', '/app/admin;/secret', '/app;jsessionid=1/admin/secret']) {
    const answer = await rawExchange(gw.url, get(target));
    assert.match(answer, /^HTTP\/1\.1 400/, target);
    assert.match(answer, /"code":"BAD_REQUEST"/, target);
  }
  assert.equal(upstream.requests.length, before, 'nothing forwarded');
  // The protected route is still protected; `;` in the query string is data, not a parameter.
  assert.equal((await send(`${gw.url}/app/admin/secret`)).status, 401);
  const query = await send(`${gw.url}/app/x?a=1;b=2`);
  assert.equal(query.status, 200);
  assert.equal(lastUpstreamRequest().url, '/app/x?a=1;b=2');
});

test('two Host headers, or a Host that is not host[:port], are 400 BAD_REQUEST', async () => {
  const before = upstream.requests.length;
  for (const host of [
    'Host: a.example\r\nHost: b.example\r\n',
    'Host: a.example\r\nhost: a.example\r\n',
    'Host: a.example:99999\r\n',
    'Host: a.example:80:80\r\n',
    'Host: a.example:x\r\n',
    'Host: user@a.example\r\n',
    'Host: a.example/path\r\n',
    'Host: a b\r\n',
    'Host: [not-ipv6]\r\n',
    'Host: [::1\r\n',
    'Host: a.example:123456\r\n',
  ]) {
    const answer = await rawExchange(gw.url, get('/app/x', host));
    assert.match(answer, /^HTTP\/1\.1 400/, host);
    assert.match(answer, /"code":"BAD_REQUEST"/, host);
  }
  assert.equal(upstream.requests.length, before, 'nothing forwarded');
  for (const host of [
    'a.example',
    'a.example:8080',
    '127.0.0.1:65535',
    '[::1]:80',
    '[2001:db8::1]',
    'xn--bcher-kva.example',
  ]) {
    const answer = await rawExchange(gw.url, get('/app/x', `Host: ${host}\r\n`));
    assert.match(answer, /^HTTP\/1\.1 200/, host);
  }
});

test('a request coding other than chunked is 501 NOT_IMPLEMENTED, and nothing is forwarded', async () => {
  const before = upstream.requests.length;
  const answer = await rawExchange(
    gw.url,
    'POST /app/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  );
  assert.match(answer, /^HTTP\/1\.1 501/);
  assert.match(answer, /"code":"NOT_IMPLEMENTED"/);
  assert.match(answer, /connection: close/i, 'the unread body is never read as a request');
  assert.equal(upstream.requests.length, before);
  const chunked = await rawExchange(
    gw.url,
    'POST /app/x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  );
  assert.match(chunked, /^HTTP\/1\.1 200/);
  assert.equal(lastUpstreamRequest().body.toString(), 'hello');
});

test('HTTP/1.0 with chunked framing is answered 400 and the connection closed (RFC 9112 6.1)', async () => {
  const before = upstream.requests.length;
  const { port } = new URL(gw.url);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
  // keep-alive asked for, and a second request behind the first: neither may be served.
  socket.write(
    'POST /app/x HTTP/1.0\r\nHost: gw\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '5\r\nhello\r\n0\r\n\r\nGET /app/smuggled HTTP/1.0\r\nHost: gw\r\n\r\n',
  );
  const closed = await Promise.race([
    once(socket, 'close').then(() => true),
    new Promise((resolve) => setTimeout(() => resolve(false), 5000)),
  ]);
  socket.destroy();
  assert.ok(closed, 'the gateway closed the connection');
  assert.match(answer, /^HTTP\/1\.1 400/);
  assert.match(answer, /"code":"BAD_REQUEST"/);
  assert.equal(answer.match(/HTTP\/1\.1 /g)?.length, 1, 'one answer only');
  assert.equal(
    upstream.requests.length,
    before,
    `nothing forwarded ${JSON.stringify(upstream.requests.slice(before))} ${answer}`,
  );
});

test('the client gets exactly one X-Request-ID, the gateway one, even when the upstream sends its own', async () => {
  upstream.setHandler((_req, res) => {
    res.writeHead(200, { 'x-request-id': 'upstream-made', 'content-length': '2' });
    res.end('ok');
  });
  try {
    const answer = await rawExchange(gw.url, get('/app/x', 'Host: gw\r\nX-Request-ID: client-1\r\n'));
    assert.match(answer, /^HTTP\/1\.1 200/);
    const ids = answer.match(/^x-request-id: .*$/gim) ?? [];
    assert.deepEqual(ids, ['x-request-id: client-1']);
    assert.equal(lastUpstreamRequest().headers['x-request-id'], 'client-1');
  } finally {
    upstream.setHandler(echoHandler);
  }
});

/** Sends a head with Expect: 100-continue and no body; returns what came back within 1.5 s. */
async function expectContinue(target: string, contentLength: number): Promise<string> {
  return rawExchange(
    gw.url,
    `POST ${target} HTTP/1.1\r\nHost: gw\r\nContent-Length: ${contentLength}\r\nExpect: 100-continue\r\n\r\n`,
    1500,
  );
}

test('Expect: 100-continue is answered only once route, auth and size passed; refusals do not invite the body', async () => {
  const before = upstream.requests.length;
  const unauthorized = await expectContinue('/app/admin/x', 5);
  assert.match(unauthorized, /^HTTP\/1\.1 401/, 'the refusal comes first, no 100 Continue');
  assert.doesNotMatch(unauthorized, /100 Continue/);
  const tooLarge = await expectContinue('/app/x', 4096);
  assert.match(tooLarge, /^HTTP\/1\.1 413/);
  assert.doesNotMatch(tooLarge, /100 Continue/);
  const missing = await expectContinue('/nowhere', 5);
  assert.match(missing, /^HTTP\/1\.1 404/);
  assert.doesNotMatch(missing, /100 Continue/);
  assert.equal(upstream.requests.length, before, 'nothing forwarded');

  // Accepted: 100 Continue first, then the body goes up and the answer comes back.
  const { port } = new URL(gw.url);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
  socket.write('POST /app/x HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
  await waitFor(() => answer.includes('\r\n\r\n'));
  assert.match(answer, /^HTTP\/1\.1 100 Continue\r\n\r\n$/);
  socket.write('hello');
  await waitFor(() => /HTTP\/1\.1 200/.test(answer));
  socket.destroy();
  assert.equal(lastUpstreamRequest().body.toString(), 'hello');
  assert.equal(lastUpstreamRequest().headers.expect, undefined, 'Expect is hop-by-hop');
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(condition(), 'condition reached within 2 s');
}

test('X-Forwarded-Proto and -Host: a trusted proxy keeps its values, anyone else gets the gateway values', async () => {
  const claims = {
    host: 'gw.internal:8080',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'api.example.com',
    'x-forwarded-for': '203.0.113.7',
  };
  await send(`${behindProxy.url}/app/x`, { headers: claims });
  const trusted = lastUpstreamRequest().headers;
  assert.equal(trusted['x-forwarded-proto'], 'https');
  assert.equal(trusted['x-forwarded-host'], 'api.example.com');
  assert.equal(trusted['x-forwarded-for'], '203.0.113.7, 127.0.0.1');

  await send(`${gw.url}/app/x`, { headers: claims });
  const untrusted = lastUpstreamRequest().headers;
  assert.equal(untrusted['x-forwarded-proto'], 'http');
  assert.equal(untrusted['x-forwarded-host'], 'gw.internal:8080');
  assert.equal(untrusted['x-forwarded-for'], '127.0.0.1');

  // A trusted proxy that sends none: the gateway states its own.
  await send(`${behindProxy.url}/app/x`, { headers: { host: 'gw.internal:8080' } });
  const bare = lastUpstreamRequest().headers;
  assert.equal(bare['x-forwarded-proto'], 'http');
  assert.equal(bare['x-forwarded-host'], 'gw.internal:8080');
});

test('pass_host sends the client Host upstream; without it the upstream gets its own host:port', async () => {
  await send(`${gw.url}/named/x`, { headers: { host: 'shop.example:8443' } });
  assert.equal(lastUpstreamRequest().headers.host, 'shop.example:8443');
  assert.equal(lastUpstreamRequest().rawHeaders.filter((name) => name.toLowerCase() === 'host').length, 1);
  await send(`${gw.url}/app/x`, { headers: { host: 'shop.example:8443' } });
  assert.equal(lastUpstreamRequest().headers.host, `127.0.0.1:${upstream.port}`);
});
