// Picks the certificate for a handshake from the SNI name: an exact SAN first, then a
// `*.example.com` SAN for one more label, else the first configured certificate. An
// unknown or missing name gets the default, never an error. A selector is immutable;
// rotation builds a new one and the listener swaps it in one assignment, so a
// handshake sees either the old set or the new one, never a mix.
import { constants } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { ServerCertificate, ServerTlsMaterial } from './certificates.ts';

/**
 * OpenSSL already leaves compression off; renegotiation is refused outright (TLS 1.3
 * has none, and a client-started one on 1.2 is a CPU-exhaustion lever).
 */
const SECURE_OPTIONS = constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_NO_COMPRESSION;

/** The options of one certificate's context; the listener also starts with the default's. */
export function contextOptions(
  certificate: ServerCertificate,
  material: ServerTlsMaterial,
): SecureContextOptions {
  return {
    cert: certificate.cert,
    key: certificate.key,
    // Client certificates are verified against this store, on every context SNI may pick.
    ca: material.clientCa,
    minVersion: material.minVersion,
    honorCipherOrder: true,
    secureOptions: SECURE_OPTIONS,
  };
}

export class CertificateSelector {
  readonly material: ServerTlsMaterial;
  readonly #default: SecureContext;
  readonly #exact = new Map<string, SecureContext>();
  /** Keyed by the part after `*.`. */
  readonly #wildcard = new Map<string, SecureContext>();

  constructor(material: ServerTlsMaterial) {
    if (material.certificates.length === 0)
      throw new Error('server.tls needs at least one usable certificate');
    this.material = material;
    const contexts = material.certificates.map((certificate) =>
      createSecureContext(contextOptions(certificate, material)),
    );
    this.#default = contexts[0];
    // Earlier certificates win a name listed twice, as the first one is the default.
    material.certificates.forEach((certificate, index) => {
      for (const name of certificate.names) {
        if (name.startsWith('*.')) {
          if (!this.#wildcard.has(name.slice(2))) this.#wildcard.set(name.slice(2), contexts[index]);
        } else if (!this.#exact.has(name)) {
          this.#exact.set(name, contexts[index]);
        }
      }
    });
  }

  get defaultCertificate(): ServerCertificate {
    return this.material.certificates[0];
  }

  select(servername: string | undefined): SecureContext {
    if (!servername) return this.#default;
    const name = servername.toLowerCase();
    const exact = this.#exact.get(name);
    if (exact) return exact;
    const dot = name.indexOf('.');
    return (dot > 0 && this.#wildcard.get(name.slice(dot + 1))) || this.#default;
  }
}
