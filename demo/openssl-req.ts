// Arguments of `openssl req` for a new P-256 key (unencrypted) and a self-signed
// certificate over it. The demo's HTTPS certificate (demo/tls.ts) and the tests' private
// CA (test/helpers/pki.ts) are both made this way; the demo must not import test/.
export const NEW_P256_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface SelfSignedRequest {
  readonly keyFile: string;
  readonly certFile: string;
  readonly days: number;
  /** As openssl's -subj takes it, e.g. /CN=localhost. */
  readonly subject: string;
  /** Each one an -addext value, e.g. subjectAltName=DNS:localhost. */
  readonly extensions: readonly string[];
}

export function selfSignedArgs(request: SelfSignedRequest): string[] {
  return [
    'req',
    '-x509',
    ...NEW_P256_KEY,
    '-keyout',
    request.keyFile,
    '-out',
    request.certFile,
    '-days',
    String(request.days),
    '-subj',
    request.subject,
    ...request.extensions.flatMap((extension) => ['-addext', extension]),
  ];
}
