// Reads and checks every certificate file a config names: the listener's certificates
// and client CA, and the TLS material towards upstreams and the auth service. Pure but
// for reading files: it changes nothing, so `validate`, start and reload all run it and
// refuse the same things. Problems carry the config path of the key that named the file.

import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { ConfigProblem } from '../config/load.ts';
import type { ClientTlsConfig, Config, ServerTlsConfig as ServerTlsSettings } from '../config/schema.ts';

export interface ServerCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Lower-cased DNS names from the SANs (or the CN when there are none); `*.example.com` kept as written. */
  readonly names: readonly string[];
  readonly serial: string;
  readonly validTo: Date;
}

export interface ServerTlsMaterial {
  readonly certificates: readonly ServerCertificate[];
  readonly clientCa: Buffer | undefined;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
}

/** undici's `connect` options for an https:// upstream or auth service. */
export interface ClientTlsOptions {
  /** System roots plus the configured CA, or undefined for the system roots alone. */
  readonly ca: readonly string[] | undefined;
  readonly cert: Buffer | undefined;
  readonly key: Buffer | undefined;
  readonly servername: string | undefined;
}

export interface TlsMaterial {
  readonly server: ServerTlsMaterial | undefined;
  /** Per service name, only for services with a tls section. */
  readonly services: ReadonlyMap<string, ClientTlsOptions>;
  readonly auth: ClientTlsOptions | undefined;
}

export interface TlsLoad {
  readonly material: TlsMaterial;
  /** Anything here means the config must not be applied. */
  readonly problems: readonly ConfigProblem[];
  /** Worth logging, not refusing (an expired certificate with expired: warn). */
  readonly warnings: readonly ConfigProblem[];
}

export function loadTlsMaterial(config: Config, now: number = Date.now()): TlsLoad {
  const problems: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  const server = config.server.tls ? loadServerTls(config.server.tls, now, problems, warnings) : undefined;
  const services = new Map<string, ClientTlsOptions>();
  for (const [name, service] of Object.entries(config.services)) {
    if (service.tls) services.set(name, loadClientTls(service.tls, `services.${name}.tls`, problems));
  }
  const auth = config.auth?.tls ? loadClientTls(config.auth.tls, 'auth.tls', problems) : undefined;
  return { material: { server, services, auth }, problems, warnings };
}

export function loadServerTls(
  settings: ServerTlsSettings,
  now: number,
  problems: ConfigProblem[],
  warnings: ConfigProblem[],
): ServerTlsMaterial {
  const certificates: ServerCertificate[] = [];
  settings.certificates.forEach((entry, index) => {
    const at = `server.tls.certificates.${index}`;
    const cert = readPem(entry.cert_file, `${at}.cert_file`, problems);
    const key = readPem(entry.key_file, `${at}.key_file`, problems);
    if (!cert || !key) return;
    const leaf = parseChain(cert, `${at}.cert_file`, problems)?.[0];
    const privateKey = parseKey(key, `${at}.key_file`, problems);
    if (!leaf || !privateKey) return;
    if (!leaf.checkPrivateKey(privateKey)) {
      problems.push({
        path: `${at}.key_file`,
        message: `${entry.key_file} is not the key of ${entry.cert_file}`,
      });
      return;
    }
    const validTo = new Date(leaf.validTo);
    if (validTo.getTime() <= now) {
      const problem = {
        path: `${at}.cert_file`,
        message: `${entry.cert_file} expired on ${validTo.toISOString()}`,
      };
      if (settings.expired === 'refuse') {
        problems.push(problem);
        return;
      }
      warnings.push(problem);
    }
    certificates.push({
      certFile: entry.cert_file,
      keyFile: entry.key_file,
      cert,
      key,
      names: dnsNames(leaf),
      serial: leaf.serialNumber,
      validTo,
    });
  });
  let clientCa: Buffer | undefined;
  if (settings.client_ca_file) {
    clientCa = readPem(settings.client_ca_file, 'server.tls.client_ca_file', problems);
    if (clientCa) parseChain(clientCa, 'server.tls.client_ca_file', problems);
  }
  return { certificates, clientCa, minVersion: settings.min_version };
}

export function loadClientTls(
  settings: ClientTlsConfig,
  at: string,
  problems: ConfigProblem[],
): ClientTlsOptions {
  let ca: string[] | undefined;
  if (settings.ca_file) {
    const pem = readPem(settings.ca_file, `${at}.ca_file`, problems);
    const parsed = pem && parseChain(pem, `${at}.ca_file`, problems);
    // Node's `ca` replaces the trust store: the system roots are listed again so the
    // configured CA is added to them, never substituted for them.
    if (pem && parsed) ca = [...rootCertificatesOnce(), pem.toString('utf8')];
  }
  let cert: Buffer | undefined;
  let key: Buffer | undefined;
  if (settings.cert_file && settings.key_file) {
    cert = readPem(settings.cert_file, `${at}.cert_file`, problems);
    key = readPem(settings.key_file, `${at}.key_file`, problems);
    const leaf = cert && parseChain(cert, `${at}.cert_file`, problems)?.[0];
    const privateKey = key && parseKey(key, `${at}.key_file`, problems);
    if (leaf && privateKey && !leaf.checkPrivateKey(privateKey)) {
      problems.push({
        path: `${at}.key_file`,
        message: `${settings.key_file} is not the key of ${settings.cert_file}`,
      });
    }
  }
  return { ca, cert, key, servername: settings.server_name ?? undefined };
}

/** Read on first use: node:tls builds the list of ~150 roots lazily. */
function rootCertificatesOnce(): readonly string[] {
  return tls.rootCertificates;
}

function readPem(file: string, path: string, problems: ConfigProblem[]): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (error) {
    problems.push({
      path,
      message: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    });
    return undefined;
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate of a PEM bundle, in order; a problem when there is none or one does not parse. */
function parseChain(pem: Buffer, path: string, problems: ConfigProblem[]): X509Certificate[] | undefined {
  const blocks = pem.toString('utf8').match(PEM_CERTIFICATE);
  if (!blocks) {
    problems.push({ path, message: 'no PEM certificate (-----BEGIN CERTIFICATE-----) in the file' });
    return undefined;
  }
  try {
    return blocks.map((block) => new X509Certificate(block));
  } catch (error) {
    problems.push({ path, message: `the certificate does not parse: ${(error as Error).message}` });
    return undefined;
  }
}

function parseKey(pem: Buffer, path: string, problems: ConfigProblem[]): KeyObject | undefined {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    problems.push({ path, message: `the private key does not parse: ${(error as Error).message}` });
    return undefined;
  }
}

/** DNS SANs, lower-cased; the subject CN only when the certificate has no DNS SAN. */
function dnsNames(cert: X509Certificate): string[] {
  const names = (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
  if (names.length > 0) return names;
  const cn = /^CN=(.+)$/m.exec(cert.subject)?.[1];
  return cn ? [cn.toLowerCase()] : [];
}
