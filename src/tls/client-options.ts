// The checked client TLS material (tls/certificates.ts) as undici's `connect` options,
// and the comparison a reload uses to decide whether a pool must be rebuilt.
import { createHash } from 'node:crypto';
import type { ClientTlsOptions } from './certificates.ts';

export interface ConnectTlsOptions {
  ca?: string[];
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
}

/** undici `connect` options; undefined when nothing is configured (system roots, URL host as SNI). */
export function connectOptions(tls: ClientTlsOptions | undefined): ConnectTlsOptions | undefined {
  if (tls === undefined) return undefined;
  const options: ConnectTlsOptions = {};
  if (tls.ca !== undefined) options.ca = [...tls.ca];
  if (tls.cert !== undefined && tls.key !== undefined) {
    options.cert = tls.cert;
    options.key = tls.key;
  }
  if (tls.servername !== undefined) options.servername = tls.servername;
  return options;
}

export function sameClientTls(a: ClientTlsOptions | undefined, b: ClientTlsOptions | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  const sameBuffer = (x: Buffer | undefined, y: Buffer | undefined) =>
    x === y || (x !== undefined && y !== undefined && x.equals(y));
  // The configured CA is the last entry; the system roots before it are the same list.
  return (
    a.servername === b.servername &&
    a.ca?.length === b.ca?.length &&
    a.ca?.at(-1) === b.ca?.at(-1) &&
    sameBuffer(a.cert, b.cert) &&
    sameBuffer(a.key, b.key)
  );
}

/**
 * A digest of the material's contents ('' for none), for holders that decide by a
 * fingerprint whether to rebuild: a file whose contents changed changes it.
 */
export function clientTlsDigest(tls: ClientTlsOptions | undefined): string {
  if (tls === undefined) return '';
  const hash = createHash('sha256');
  // The configured CA is the last entry (see sameClientTls).
  for (const part of [tls.servername, tls.ca?.at(-1), tls.cert, tls.key]) {
    hash.update(part === undefined ? '-' : `${part.length}:`);
    if (part !== undefined) hash.update(part);
  }
  return hash.digest('hex');
}
