// TLS from the gateway to upstreams and to the auth service: a private CA added through
// tls.ca_file (and 502 / 503 AUTH_UNAVAILABLE without it, the reason in the log),
// server_name for SNI and verification, a client certificate for mTLS, and health
// checks that verify the instance the same way.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startTestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { type HttpsUpstream, json, startHttpsUpstream } from '../helpers/https-upstream.ts';
import { createPki, opensslUnavailableReason, requireOpenssl, type TestPki } from '../helpers/pki.ts';

let pki: TestPki;
let plain: HttpsUpstream;
let named: HttpsUpstream;
let mutual: HttpsUpstream;
let verify: HttpsUpstream;
let continuing: HttpsUpstream;
const hasOpenssl = opensslUnavailableReason() === undefined;

before(async () => {
  if (!hasOpenssl) return;
  pki = createPki();
  const ip = pki.issue('upstream-ip', { sans: ['IP:127.0.0.1', 'localhost'] });
  const internal = pki.issue('payments', { sans: ['payments.internal'] });
  const echo = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) =>
    json(res, 200, { url: req.url, proto: req.headers['x-forwarded-proto'] });
  plain = await startHttpsUpstream(ip, echo);
  named = await startHttpsUpstream(internal, echo);
  mutual = await startHttpsUpstream(ip, echo, { clientCa: pki.ca });
  // Sends an unsolicited 100 Continue before reading the body, as some servers do.
  continuing = await startHttpsUpstream(ip, (req, res) => {
    res.writeContinue();
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => json(res, 200, { bytes }));
  });
  verify = await startHttpsUpstream(ip, (req, res) =>
    req.headers.authorization === 'Bearer good' ? json(res, 200, { user_id: 'u7' }) : json(res, 401, {}),
  );
});

after(async () => {
  await Promise.all([plain?.close(), named?.close(), mutual?.close(), verify?.close(), continuing?.close()]);
  pki?.remove();
});

function routes(...names: string[]) {
  return names.map((name) => ({ path: `/${name}`, service: name, strip_prefix: true, auth: 'none' }));
}

test('an upstream with a private CA works through tls.ca_file and fails with 502 without it', async (t) => {
  if (!requireOpenssl(t)) return;
  const gw = await startTestGateway({
    services: {
      trusted: { url: plain.url, tls: { ca_file: pki.caFile } },
      untrusted: { url: plain.url },
    },
    routes: routes('trusted', 'untrusted'),
  });
  try {
    const ok = await send(`${gw.url}/trusted/x`);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json(), { url: '/x', proto: 'http' });
    const refused = await send(`${gw.url}/untrusted/x`, { headers: { 'x-request-id': 'tls-untrusted' } });
    assert.equal(refused.status, 502);
    assert.equal(refused.json<{ error: { code: string } }>().error.code, 'BAD_GATEWAY');
    const line = JSON.stringify(
      gw.logs().filter((l) => l.request_id === 'tls-untrusted' && l.msg !== 'request'),
    );
    assert.match(line, /certificate|UNABLE_TO_VERIFY|self.signed/i, 'the log says why');
  } finally {
    await gw.close();
  }
});

test('an unsolicited 100 Continue over TLS is skipped: the body goes up and the final answer comes back', async (t) => {
  if (!requireOpenssl(t)) return;
  const gw = await startTestGateway({
    services: { continuing: { url: continuing.url, tls: { ca_file: pki.caFile } } },
    routes: routes('continuing'),
  });
  try {
    for (let i = 0; i < 3; i++) {
      const answer = await send(`${gw.url}/continuing/upload`, {
        method: 'POST',
        body: Buffer.alloc(200_000, 7),
      });
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.json(), { bytes: 200_000 });
    }
  } finally {
    await gw.close();
  }
});

test('server_name sets SNI and the name verified; a wrong name is refused', async (t) => {
  if (!requireOpenssl(t)) return;
  const gw = await startTestGateway({
    services: {
      named: { url: named.url, tls: { ca_file: pki.caFile, server_name: 'payments.internal' } },
      unnamed: { url: named.url, tls: { ca_file: pki.caFile } },
    },
    routes: routes('named', 'unnamed'),
  });
  try {
    assert.equal((await send(`${gw.url}/named/a`)).status, 200);
    assert.equal((await send(`${gw.url}/unnamed/a`)).status, 502);
  } finally {
    await gw.close();
  }
});

test('a client certificate for an upstream that demands one (mTLS)', async (t) => {
  if (!requireOpenssl(t)) return;
  const client = pki.issue('gateway-client', { cn: 'gatehouse' });
  const gw = await startTestGateway({
    services: {
      with: {
        url: mutual.url,
        tls: { ca_file: pki.caFile, cert_file: client.certFile, key_file: client.keyFile },
      },
      without: { url: mutual.url, tls: { ca_file: pki.caFile } },
    },
    routes: routes('with', 'without'),
  });
  try {
    assert.equal((await send(`${gw.url}/with/a`)).status, 200);
    assert.equal(mutual.clientSubjects.at(-1), 'gatehouse');
    assert.equal((await send(`${gw.url}/without/a`)).status, 502);
  } finally {
    await gw.close();
  }
});

test('health checks verify the instance with the same TLS settings', async (t) => {
  if (!requireOpenssl(t)) return;
  const probe = { path: '/health', interval: '200ms', timeout: '1s', retries: 1 };
  const gw = await startTestGateway({
    services: {
      checked: { url: plain.url, tls: { ca_file: pki.caFile }, health_check: probe },
      failing: { url: plain.url, health_check: probe },
    },
    routes: routes('checked', 'failing'),
  });
  try {
    assert.equal((await send(`${gw.url}/checked/a`)).status, 200);
    // Its probe could not verify the certificate: never healthy, so never sent traffic.
    const failing = await send(`${gw.url}/failing/a`);
    assert.equal(failing.status, 503);
    assert.equal(failing.json<{ error: { code: string } }>().error.code, 'UPSTREAM_UNAVAILABLE');
  } finally {
    await gw.close();
  }
});

test('auth.tls: a verify_url with a private CA works through ca_file, and is 503 without it', async (t) => {
  if (!requireOpenssl(t)) return;
  const config = (tls: Record<string, unknown> | undefined) => ({
    services: { api: { url: plain.url, tls: { ca_file: pki.caFile } } },
    routes: [{ path: '/api', service: 'api' }],
    auth: { mode: 'remote', verify_url: `${verify.url}/verify`, retries: 0, ...(tls && { tls }) },
  });
  const trusting = await startTestGateway(config({ ca_file: pki.caFile }));
  const distrusting = await startTestGateway(config(undefined));
  try {
    assert.equal(
      (await send(`${trusting.url}/api/me`, { headers: { authorization: 'Bearer good' } })).status,
      200,
    );
    const refused = await send(`${distrusting.url}/api/me`, { headers: { authorization: 'Bearer good' } });
    assert.equal(refused.status, 503);
    assert.equal(refused.json<{ error: { code: string } }>().error.code, 'AUTH_UNAVAILABLE');
  } finally {
    await Promise.all([trusting.close(), distrusting.close()]);
  }
});

test('auth.tls: new contents in the same ca_file take effect on reload', async (t) => {
  if (!requireOpenssl(t)) return;
  // The file first holds another CA's certificate, so the verify service is not trusted.
  const other = createPki('Other Test CA');
  const caFile = join(other.dir, 'auth-ca.pem');
  writeFileSync(caFile, other.ca);
  const gw = await startTestGateway(
    {
      services: { api: { url: plain.url, tls: { ca_file: pki.caFile } } },
      routes: [{ path: '/api', service: 'api' }],
      auth: { mode: 'remote', verify_url: `${verify.url}/verify`, retries: 0, tls: { ca_file: caFile } },
    },
    { watch: false },
  );
  try {
    const refused = await send(`${gw.url}/api/me`, { headers: { authorization: 'Bearer good' } });
    assert.equal(refused.status, 503);
    assert.equal(refused.json<{ error: { code: string } }>().error.code, 'AUTH_UNAVAILABLE');
    // Same config text, same path; only the file's contents change.
    writeFileSync(caFile, pki.ca);
    const result = await gw.gateway.reload();
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal((await send(`${gw.url}/api/me`, { headers: { authorization: 'Bearer good' } })).status, 200);
  } finally {
    await gw.close();
    other.remove();
  }
});

test('services.<name>.tls: new contents in the same ca_file reach the health probes on reload', async (t) => {
  if (!requireOpenssl(t)) return;
  const other = createPki('Other Test CA');
  const caFile = join(other.dir, 'service-ca.pem');
  writeFileSync(caFile, other.ca);
  const probe = { path: '/health', interval: '100ms', timeout: '1s', retries: 1 };
  const gw = await startTestGateway(
    {
      services: { checked: { url: plain.url, tls: { ca_file: caFile }, health_check: probe } },
      routes: routes('checked'),
    },
    { watch: false },
  );
  try {
    // The probe cannot verify the instance: never healthy.
    assert.equal((await send(`${gw.url}/checked/a`)).status, 503);
    writeFileSync(caFile, pki.ca);
    const result = await gw.gateway.reload();
    assert.equal(result.ok, true, JSON.stringify(result));
    // The rebuilt probe client verifies it now; bounded polling, generous for a loaded machine.
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await send(`${gw.url}/checked/a`)).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(status, 200);
  } finally {
    await gw.close();
    other.remove();
  }
});
