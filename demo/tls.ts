// The demo's HTTPS certificate: made at every start with the openssl CLI, self-signed
// for localhost and 127.0.0.1, so `curl --cacert` can verify it without touching the
// system trust store. It lives in demo/.tls/ (git-ignored) where demo/gateway.yaml
// points.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { selfSignedArgs } from './openssl-req.ts';

export interface DemoCertificate {
  readonly certFile: string;
  readonly keyFile: string;
}

/** Writes localhost.pem and localhost.key under `dir`; throws with openssl's words when it cannot. */
export function makeLocalhostCertificate(dir: string): DemoCertificate {
  mkdirSync(dir, { recursive: true });
  const certFile = join(dir, 'localhost.pem');
  const keyFile = join(dir, 'localhost.key');
  execFileSync(
    process.env.OPENSSL ?? 'openssl',
    selfSignedArgs({
      keyFile,
      certFile,
      days: 7,
      subject: '/CN=localhost',
      extensions: ['subjectAltName=DNS:localhost,IP:127.0.0.1'],
    }),
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return { certFile, keyFile };
}
