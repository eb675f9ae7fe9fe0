// A private CA and certificates made at test time with the openssl CLI: server
// certificates with chosen SANs and serials, client certificates for mTLS, expired ones.
// Project rule: without openssl the TLS tests fail under CI=true and are skipped
// loudly elsewhere (as with redis-server).
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { NEW_P256_KEY, selfSignedArgs } from '../../demo/openssl-req.ts';

const OPENSSL = process.env.OPENSSL ?? 'openssl';

let availability: string | undefined | null = null;

export function opensslUnavailableReason(): string | undefined {
  if (availability === null) {
    const probe = spawnSync(OPENSSL, ['version'], { encoding: 'utf8' });
    availability = probe.error
      ? `${OPENSSL} not runnable: ${probe.error.message}`
      : probe.status === 0
        ? undefined
        : `${OPENSSL} version exited ${probe.status}`;
  }
  return availability;
}

/** Call first in a test that needs certificates: `if (!requireOpenssl(t)) return;`. */
export function requireOpenssl(t: TestContext): boolean {
  const reason = opensslUnavailableReason();
  if (reason === undefined) return true;
  if (process.env.CI === 'true') throw new Error(`openssl is required under CI=true (${reason})`);
  console.warn(
    `\n!!!! SKIPPED: ${t.name}: openssl not installed (${reason}). Install openssl to run the TLS tests. !!!!\n`,
  );
  t.skip(`openssl not installed: ${reason}`);
  return false;
}

export interface IssuedCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  /** Upper-case hex, as X509Certificate.serialNumber and getPeerCertificate() print it. */
  readonly serial: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface IssueOptions {
  /** DNS names (and IP:… entries) for the SAN. */
  readonly sans?: readonly string[];
  /** Subject CN (default: the first SAN, or the file name). */
  readonly cn?: string;
  /** An already-expired certificate. */
  readonly expired?: boolean;
}

export interface TestPki {
  readonly dir: string;
  /** The CA certificate (PEM file), to trust. */
  readonly caFile: string;
  readonly ca: Buffer;
  /** Issues a certificate signed by this CA into `<dir>/<name>.pem` and `<name>.key`. */
  issue(name: string, options?: IssueOptions): IssuedCertificate;
  remove(): void;
}

const CA_CONFIG = `[ca]
default_ca = test_ca
[test_ca]
database = index.txt
serial = serial.txt
new_certs_dir = .
policy = any
default_md = sha256
copy_extensions = none
unique_subject = no
[any]
commonName = supplied
`;

/** A new CA (P-256, valid two days) in a temp directory. */
export function createPki(label = 'Gatehouse Test CA'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pki-'));
  const run = (args: string[]) =>
    execFileSync(OPENSSL, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  run(
    selfSignedArgs({
      keyFile: 'ca.key',
      certFile: 'ca.pem',
      days: 2,
      subject: `/CN=${label}`,
      extensions: ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign'],
    }),
  );
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'ca.cnf'), CA_CONFIG);
  const caFile = join(dir, 'ca.pem');
  return {
    dir,
    caFile,
    ca: readFileSync(caFile),
    issue(name, options = {}) {
      const sans = options.sans ?? [];
      const cn = options.cn ?? sans[0]?.replace(/^\*\./, 'wildcard.') ?? name;
      // Serial chosen here, so the test knows which certificate a handshake presents.
      const serial = `7E${randomBytes(7).toString('hex').toUpperCase()}`;
      writeFileSync(join(dir, 'serial.txt'), `${serial}\n`);
      const ext = [
        'basicConstraints=CA:FALSE',
        'extendedKeyUsage=serverAuth,clientAuth',
        ...(sans.length > 0
          ? [`subjectAltName=${sans.map((s) => (s.startsWith('IP:') ? s : `DNS:${s}`)).join(',')}`]
          : []),
      ].join('\n');
      writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
      run([
        'req',
        '-new',
        ...NEW_P256_KEY,
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        `/CN=${cn}`,
      ]);
      const dates = options.expired
        ? ['-startdate', '20200101000000Z', '-enddate', '20200102000000Z']
        : ['-days', '1'];
      run([
        'ca',
        '-batch',
        '-config',
        'ca.cnf',
        '-cert',
        'ca.pem',
        '-keyfile',
        'ca.key',
        '-notext',
        '-in',
        `${name}.csr`,
        '-out',
        `${name}.pem`,
        '-extfile',
        `${name}.ext`,
        ...dates,
      ]);
      const certFile = join(dir, `${name}.pem`);
      const keyFile = join(dir, `${name}.key`);
      return { certFile, keyFile, serial, cert: readFileSync(certFile), key: readFileSync(keyFile) };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
