// Certificate rotation without a restart: the files are swapped as cert-manager or an
// editor would (rename-over), the next handshake presents the new certificate (serial
// and SAN checked), an open keep-alive connection keeps working, a broken file keeps
// the certificate in force (logged and counted), and a config reload to other files
// swaps them too.
import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type TLSSocket } from 'node:tls';
import { startTestGateway } from '../helpers/gateway.ts';
import { createPki, type IssuedCertificate, requireOpenssl } from '../helpers/pki.ts';
import { handshake } from '../helpers/tls-client.ts';
import { startUpstream } from '../helpers/upstream.ts';

/** Replaces `target` with `content` by rename, as editors and cert-manager do. */
function renameOver(target: string, content: Buffer | string): void {
  writeFileSync(`${target}.tmp`, content);
  renameSync(`${target}.tmp`, target);
}

async function presentedSerial(url: string, ca: Buffer): Promise<string> {
  return (await handshake(url, { ca, servername: 'localhost' })).serial;
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await sleep(100);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** One HTTP/1.1 request on an open TLS socket; resolves with the status line. */
function requestOn(socket: TLSSocket, path: string): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text)?.[1];
      if (head >= 0 && length !== undefined && text.length >= head + 4 + Number(length)) {
        socket.off('data', onData);
        resolve(text.split('\r\n')[0]);
      }
    };
    socket.on('data', onData);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
  });
}

test('a rotated certificate serves the next handshake; open connections keep working; a broken file keeps the old', async (t) => {
  if (!requireOpenssl(t)) return;
  const pki = createPki();
  const upstream = await startUpstream();
  const first = pki.issue('first', { sans: ['localhost', 'first.example.test'] });
  const second = pki.issue('second', { sans: ['localhost', 'second.example.test'] });
  const live = { certFile: join(pki.dir, 'live.pem'), keyFile: join(pki.dir, 'live.key') };
  writeFileSync(live.certFile, first.cert);
  writeFileSync(live.keyFile, first.key);
  const config = (files: { certFile: string; keyFile: string }) => ({
    server: {
      tls: { certificates: [{ cert_file: files.certFile, key_file: files.keyFile }] },
      http2: false,
      keep_alive_timeout: '30s',
    },
    services: { echo: { url: upstream.url } },
    routes: [{ path: '/api', service: 'echo' }],
  });
  const gw = await startTestGateway(config(live));
  let open: TLSSocket | undefined;
  try {
    assert.equal(await presentedSerial(gw.url, pki.ca), first.serial);
    const { port } = new URL(gw.url);
    open = connect({ host: '127.0.0.1', port: Number(port), ca: pki.ca, servername: 'localhost' });
    await new Promise((resolve) => open!.once('secureConnect', resolve));
    assert.match(await requestOn(open, '/api/before'), /^HTTP\/1\.1 200/);

    renameOver(live.keyFile, second.key);
    renameOver(live.certFile, second.cert);
    await eventually(async () => (await presentedSerial(gw.url, pki.ca)) === second.serial, 'the new serial');
    const rotated = await handshake(gw.url, { ca: pki.ca, servername: 'localhost' });
    assert.match(rotated.subjectaltname ?? '', /second\.example\.test/);
    // The connection opened before the rotation still serves, with the certificate it was given.
    assert.match(await requestOn(open, '/api/after'), /^HTTP\/1\.1 200/);
    assert.equal(open.getPeerCertificate().serialNumber, first.serial);

    // A broken file: the rotated certificate keeps serving; the failure is logged and counted.
    renameOver(live.certFile, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    await eventually(
      async () =>
        gw.logs().some((l) => l.msg === 'certificate reload failed; the certificates in force keep serving'),
      'the failure to be logged',
    );
    assert.equal(await presentedSerial(gw.url, pki.ca), second.serial);
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /gatehouse_tls_reloads_total\{result="failure"\} [1-9]/);
    assert.match(metrics, /gatehouse_tls_reloads_total\{result="success"\} [1-9]/);

    // A config reload that names other files swaps the certificates the same way.
    const third = pki.issue('third', { sans: ['localhost'] });
    await gw.writeConfig(config(third));
    const result = await gw.gateway.reload();
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(await presentedSerial(gw.url, pki.ca), third.serial);
  } finally {
    open?.destroy();
    await gw.close();
    await upstream.close();
    pki.remove();
  }
});

test('a config reload to a certificate that does not match its key changes nothing', async (t) => {
  if (!requireOpenssl(t)) return;
  const pki = createPki();
  const upstream = await startUpstream();
  const good: IssuedCertificate = pki.issue('good', { sans: ['localhost'] });
  const other = pki.issue('other', { sans: ['localhost'] });
  const config = (cert: string, key: string) => ({
    server: { tls: { certificates: [{ cert_file: cert, key_file: key }] } },
    services: { echo: { url: upstream.url } },
    routes: [{ path: '/api', service: 'echo' }],
  });
  const gw = await startTestGateway(config(good.certFile, good.keyFile));
  try {
    await gw.writeConfig(config(good.certFile, other.keyFile));
    const result = await gw.gateway.reload();
    assert.equal(result.ok, false);
    assert.match(result.errors!.join('\n'), /server\.tls\.certificates\.0\.key_file: .* is not the key of/);
    assert.equal(await presentedSerial(gw.url, pki.ca), good.serial);
  } finally {
    await gw.close();
    await upstream.close();
    pki.remove();
  }
});
