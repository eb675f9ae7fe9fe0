// The HTTPS listener end to end, through real TLS sockets with certificates made at
// test time: proxying with X-Forwarded-Proto: https, SNI choosing among certificates,
// mTLS, HSTS, the 308 redirect listener and auth.require_https.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type AuthStub, startAuthStub } from '../helpers/auth-stub.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { rawExchange, send } from '../helpers/http.ts';
import {
  createPki,
  type IssuedCertificate,
  opensslUnavailableReason,
  requireOpenssl,
  type TestPki,
} from '../helpers/pki.ts';
import { handshake, sendTls, tlsAgent } from '../helpers/tls-client.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let pki: TestPki;
let api: IssuedCertificate;
let other: IssuedCertificate;
let client: IssuedCertificate;
let upstream: TestUpstream;
let stub: AuthStub;
const hasOpenssl = opensslUnavailableReason() === undefined;

before(async () => {
  upstream = await startUpstream();
  stub = await startAuthStub({ tokens: { 'good-token': { user_id: 'u1', roles: ['reader'] } } });
  if (!hasOpenssl) return;
  pki = createPki();
  api = pki.issue('api', { sans: ['localhost', 'api.example.test'] });
  other = pki.issue('other', { sans: ['*.other.test'] });
  client = pki.issue('client', { cn: 'alice' });
});

after(async () => {
  await Promise.all([upstream.close(), stub.close()]);
  pki?.remove();
});

function tlsConfig(extra: Record<string, unknown> = {}) {
  return {
    certificates: [
      { cert_file: api.certFile, key_file: api.keyFile },
      { cert_file: other.certFile, key_file: other.keyFile },
    ],
    ...extra,
  };
}

function baseConfig(server: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    server,
    services: { echo: { url: upstream.url } },
    routes: [{ path: '/api', service: 'echo' }],
    ...extra,
  };
}

describe('HTTPS listener', () => {
  let gw: TestGateway;
  before(async () => {
    if (!hasOpenssl) return;
    gw = await startTestGateway(baseConfig({ tls: tlsConfig(), hsts: '365d', redirect_http_port: 0 }));
  });
  after(async () => gw?.close());

  test('proxies an HTTPS request with X-Forwarded-Proto: https and HSTS on the answer', async (t) => {
    if (!requireOpenssl(t)) return;
    assert.match(gw.url, /^https:/);
    const agent = tlsAgent({ ca: pki.ca, servername: 'localhost' });
    const response = await sendTls(`${gw.url}/api/hello`, agent);
    assert.equal(response.status, 200);
    const seen = response.json<{ headers: Record<string, string> }>().headers;
    assert.equal(seen['x-forwarded-proto'], 'https');
    assert.equal(response.headers['strict-transport-security'], 'max-age=31536000');
    await agent.close();
  });

  test('gateway errors over HTTPS carry HSTS too', async (t) => {
    if (!requireOpenssl(t)) return;
    const agent = tlsAgent({ ca: pki.ca, servername: 'localhost' });
    const response = await sendTls(`${gw.url}/nowhere`, agent);
    assert.equal(response.status, 404);
    assert.equal(response.json<{ error: { code: string } }>().error.code, 'ROUTE_NOT_FOUND');
    assert.equal(response.headers['strict-transport-security'], 'max-age=31536000');
    await agent.close();
  });

  test('SNI picks the certificate: exact SAN, wildcard SAN, default for unknown or no name', async (t) => {
    if (!requireOpenssl(t)) return;
    const exact = await handshake(gw.url, { ca: pki.ca, servername: 'api.example.test' });
    assert.equal(exact.serial, api.serial);
    assert.match(exact.subjectaltname ?? '', /api\.example\.test/);
    const wildcard = await handshake(gw.url, { ca: pki.ca, servername: 'shop.other.test' });
    assert.equal(wildcard.serial, other.serial);
    assert.match(wildcard.subjectaltname ?? '', /\*\.other\.test/);
    const unknown = await handshake(gw.url, { ca: pki.ca, servername: 'nobody.example.org' });
    assert.equal(unknown.serial, api.serial);
    // A wildcard covers one label only.
    const deeper = await handshake(gw.url, { ca: pki.ca, servername: 'a.b.other.test' });
    assert.equal(deeper.serial, api.serial);
    const noName = await handshake(gw.url, { ca: pki.ca });
    assert.equal(noName.serial, api.serial);
  });

  test('refuses TLS 1.1 and offers h2 and http/1.1 by ALPN', async (t) => {
    if (!requireOpenssl(t)) return;
    const { connect } = await import('node:tls');
    const error = await new Promise<Error | undefined>((resolve) => {
      const socket = connect({
        host: '127.0.0.1',
        port: Number(new URL(gw.url).port),
        ca: pki.ca,
        servername: 'localhost',
        minVersion: 'TLSv1',
        maxVersion: 'TLSv1.1',
      });
      socket.once('secureConnect', () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once('error', resolve);
    });
    assert.ok(error, 'a TLS 1.1 handshake must fail');
    assert.equal(
      (await handshake(gw.url, { ca: pki.ca, servername: 'localhost', alpn: ['h2', 'http/1.1'] })).alpn,
      'h2',
    );
    assert.equal(
      (await handshake(gw.url, { ca: pki.ca, servername: 'localhost', alpn: ['http/1.1'] })).alpn,
      'http/1.1',
    );
  });

  test('the redirect port answers 308 to the https URL and never proxies or reads a body', async (t) => {
    if (!requireOpenssl(t)) return;
    const redirectUrl = gw.gateway.redirectUrl!;
    const httpsPort = new URL(gw.url).port;
    const before = upstream.requests.length;
    const response = await send(`${redirectUrl}/api/items?q=1&b=two`, {
      headers: { host: 'shop.example.test:8080' },
    });
    assert.equal(response.status, 308);
    assert.equal(response.headers.location, `https://shop.example.test:${httpsPort}/api/items?q=1&b=two`);
    const posted = await rawExchange(
      redirectUrl,
      'POST /api/upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\npartial',
      1500,
    );
    assert.match(posted, /^HTTP\/1\.1 308/);
    assert.match(posted, /location: https:\/\/localhost:\d+\/api\/upload/i);
    assert.match(posted, /connection: close/i);
    const badHost = await rawExchange(redirectUrl, 'GET / HTTP/1.1\r\nHost: evil.test/x\r\n\r\n', 1000);
    assert.match(badHost, /^HTTP\/1\.1 400/);
    assert.equal(upstream.requests.length, before, 'the redirect listener never proxies');
  });
});

describe('mTLS', () => {
  let gw: TestGateway;
  before(async () => {
    if (!hasOpenssl) return;
    gw = await startTestGateway(baseConfig({ tls: tlsConfig({ client_ca_file: pki.caFile }) }));
  });
  after(async () => gw?.close());

  test('a client without a certificate is refused in the handshake', async (t) => {
    if (!requireOpenssl(t)) return;
    const agent = tlsAgent({ ca: pki.ca, servername: 'localhost' });
    await assert.rejects(sendTls(`${gw.url}/api/x`, agent));
    await agent.close();
    assert.equal(upstream.requests.filter((r) => r.url === '/api/x').length, 0);
  });

  test('a client certificate from another CA is refused', async (t) => {
    if (!requireOpenssl(t)) return;
    const stranger = createPki('Stranger CA');
    try {
      const foreign = stranger.issue('mallory', { cn: 'mallory' });
      const agent = tlsAgent({ ca: pki.ca, servername: 'localhost', cert: foreign.cert, key: foreign.key });
      await assert.rejects(sendTls(`${gw.url}/api/y`, agent));
      await agent.close();
    } finally {
      stranger.remove();
    }
  });

  test('a verified client is served and its subject is in the access log', async (t) => {
    if (!requireOpenssl(t)) return;
    const agent = tlsAgent({ ca: pki.ca, servername: 'localhost', cert: client.cert, key: client.key });
    const response = await sendTls(`${gw.url}/api/me`, agent, { headers: { 'x-request-id': 'mtls-1' } });
    assert.equal(response.status, 200);
    await agent.close();
    const line = gw.logs().find((l) => l.request_id === 'mtls-1');
    assert.equal(line?.client_cert_subject, 'CN=alice');
  });
});

describe('auth.require_https', () => {
  let gw: TestGateway;
  before(async () => {
    if (!hasOpenssl) return;
    gw = await startTestGateway(
      baseConfig(
        { tls: tlsConfig({ port: 0 }), trusted_proxies: ['127.0.0.1'] },
        { auth: { mode: 'remote', verify_url: stub.verifyUrl, require_https: true } },
      ),
    );
  });
  after(async () => gw?.close());

  test('a token over plain HTTP gets 403 HTTPS_REQUIRED and the auth service is never called', async (t) => {
    if (!requireOpenssl(t)) return;
    assert.match(gw.url, /^http:/);
    stub.resetCalls();
    const response = await send(`${gw.url}/api/secret`, { headers: { authorization: 'Bearer good-token' } });
    assert.equal(response.status, 403);
    assert.equal(response.json<{ error: { code: string } }>().error.code, 'HTTPS_REQUIRED');
    assert.equal(stub.calls, 0);
    // Without a credential the plain request goes on to the auth step (401), not 403.
    assert.equal((await send(`${gw.url}/api/secret`)).status, 401);
  });

  test('the same token over the gateway TLS, or from a trusted proxy that terminated TLS, is verified', async (t) => {
    if (!requireOpenssl(t)) return;
    stub.resetCalls();
    const agent = tlsAgent({ ca: pki.ca, servername: 'localhost' });
    const overTls = await sendTls(`${gw.gateway.httpsUrl}/api/secret`, agent, {
      headers: { authorization: 'Bearer good-token' },
    });
    assert.equal(overTls.status, 200);
    assert.equal(overTls.json<{ headers: Record<string, string> }>().headers['x-user-id'], 'u1');
    await agent.close();
    // The test client is 127.0.0.1, a trusted proxy here: its X-Forwarded-Proto is kept.
    const proxied = await send(`${gw.url}/api/secret`, {
      headers: { authorization: 'Bearer good-token', 'x-forwarded-proto': 'https' },
    });
    assert.equal(proxied.status, 200);
    assert.equal(proxied.json<{ headers: Record<string, string> }>().headers['x-forwarded-proto'], 'https');
    assert.equal(stub.calls, 1, 'one verify call, then the cached verdict');
  });
});
