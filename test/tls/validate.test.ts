// `gatehouse validate` runs the certificate checks start runs: unreadable files, PEM
// that does not parse, a key that is not the certificate's, an expired certificate
// (refused, or only warned about with expired: warn), each reported with its key.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runCli } from '../helpers/cli.ts';
import { createPki, opensslUnavailableReason, requireOpenssl, type TestPki } from '../helpers/pki.ts';

let pki: TestPki;
const hasOpenssl = opensslUnavailableReason() === undefined;

before(() => {
  if (hasOpenssl) pki = createPki();
});
after(() => pki?.remove());

function configFile(name: string, tls: string, extra = ''): string {
  const file = join(pki.dir, `${name}.yaml`);
  writeFileSync(
    file,
    `server:\n  tls:\n${tls}\nservices:\n  api: { url: http://127.0.0.1:3001 }\nroutes: [{ path: /api, service: api }]\n${extra}`,
  );
  return file;
}

test('validate refuses missing files, unparsable PEM and a key that is not the certificate', async (t) => {
  if (!requireOpenssl(t)) return;
  const a = pki.issue('va', { sans: ['localhost'] });
  const b = pki.issue('vb', { sans: ['localhost'] });
  const garbage = join(pki.dir, 'garbage.pem');
  writeFileSync(garbage, 'hello');
  const file = configFile(
    'bad',
    [
      '    certificates:',
      `      - { cert_file: ${join(pki.dir, 'missing.pem')}, key_file: ${a.keyFile} }`,
      `      - { cert_file: ${garbage}, key_file: ${a.keyFile} }`,
      `      - { cert_file: ${a.certFile}, key_file: ${b.keyFile} }`,
    ].join('\n'),
    `auth:\n  verify_url: https://127.0.0.1:9/verify\n  tls: { ca_file: ${garbage} }\n`,
  );
  const result = await runCli(['validate', '--config', file]);
  assert.equal(result.code, 1, result.stdout);
  assert.match(result.stderr, /server\.tls\.certificates\.0\.cert_file: cannot read .*missing\.pem: ENOENT/);
  assert.match(result.stderr, /server\.tls\.certificates\.1\.cert_file: no PEM certificate/);
  assert.match(
    result.stderr,
    /server\.tls\.certificates\.2\.key_file: .*vb\.key is not the key of .*va\.pem/,
  );
  assert.match(result.stderr, /auth\.tls\.ca_file: no PEM certificate/);
  // Start refuses the same file with the same words.
  const start = await runCli(['start', '--config', file]);
  assert.equal(start.code, 1);
  assert.match(start.stderr, /server\.tls\.certificates\.2\.key_file: .*is not the key of/);
});

test('an expired certificate is refused, or only warned about with expired: warn', async (t) => {
  if (!requireOpenssl(t)) return;
  const old = pki.issue('old', { sans: ['localhost'], expired: true });
  const entry = `    certificates: [{ cert_file: ${old.certFile}, key_file: ${old.keyFile} }]`;
  const refused = await runCli(['validate', '--config', configFile('expired', entry)]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /server\.tls\.certificates\.0\.cert_file: .*old\.pem expired on 2020-01-02/);
  const warned = await runCli(['validate', '--config', configFile('warned', `${entry}\n    expired: warn`)]);
  assert.equal(warned.code, 0, warned.stderr);
  assert.match(warned.stderr, /warning: .*server\.tls\.certificates\.0\.cert_file: .*expired on 2020-01-02/);
});

test('redirect_http_port and hsts need server.tls', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-validate-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(
    file,
    'server:\n  redirect_http_port: 8081\n  hsts: 365d\nservices:\n  api: { url: http://127.0.0.1:3001 }\n',
  );
  const result = await runCli(['validate', '--config', file]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /server\.redirect_http_port: redirect_http_port needs server\.tls/);
  assert.match(result.stderr, /server\.hsts: hsts needs server\.tls/);
  rmSync(dir, { recursive: true, force: true });
});
