// The gateway's public listeners and what keeps them current:
//   - plain HTTP on server.port, unless server.tls makes that port HTTPS;
//   - HTTPS (h2 + http/1.1) on server.port, or on server.tls.port beside plain HTTP;
//   - the 308 redirect listener on server.redirect_http_port.
// The certificate files are watched like the config file (rename-over, symlink swap):
// a good new set serves the next handshakes, a broken one leaves the old set serving,
// logged and counted. A config reload that changes certificates goes the same way.
import type { ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { formatProblem } from '../config/load.ts';
import type { Config, ServerTlsConfig } from '../config/schema.ts';
import { type ConfigWatcher, watchConfigFile } from '../config/watch.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { loadServerTls, type ServerTlsMaterial } from '../tls/certificates.ts';
import { acceptPriorKnowledgeH2 } from './h2c.ts';
import { createPublicServer, type PublicHandlers } from './public-server.ts';
import { createRedirectServer } from './redirect-server.ts';
import { createTlsPublicServer, type PublicListener, type TlsListener } from './tls-listener.ts';

export interface PublicListenerDeps {
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  /** Watch the certificate files (default true). */
  readonly watch: boolean;
  /** Debounce of the file watcher, for tests. */
  readonly watchDebounceMs?: number;
}

export class PublicListeners {
  readonly plain: PublicListener | undefined;
  readonly secure: TlsListener | undefined;
  readonly redirect: PublicListener | undefined;
  readonly #config: Config;
  readonly #deps: PublicListenerDeps;
  #tls: ServerTlsConfig | undefined;
  #watchers: ConfigWatcher[] = [];
  #watchedFiles = '';

  constructor(
    config: Config,
    material: ServerTlsMaterial | undefined,
    handlers: PublicHandlers,
    deps: PublicListenerDeps,
  ) {
    this.#config = config;
    this.#deps = deps;
    const { server } = config;
    this.#tls = server.tls;
    if (!server.tls || (server.tls.port !== undefined && server.tls.port !== null)) {
      const plain = createPublicServer(server, handlers);
      acceptPriorKnowledgeH2(plain, server, handlers, { onRapidReset: (s) => onRapidReset(deps, s) });
      this.plain = plain;
    }
    if (server.tls && material) {
      this.secure = createTlsPublicServer(server, material, handlers, {
        onRapidReset: (session) => onRapidReset(deps, session),
      });
      if (server.redirect_http_port !== undefined && server.redirect_http_port !== null) {
        this.redirect = createRedirectServer(server, () => portOf(this.secure!.server));
      }
    }
  }

  get all(): PublicListener[] {
    return [this.plain, this.secure?.server, this.redirect].filter(
      (listener): listener is PublicListener => listener !== undefined,
    );
  }

  /** Binds every listener through `bind`, which names the config key of each port. */
  async listen(
    bind: (server: PublicListener, port: number, key: readonly string[]) => Promise<void>,
  ): Promise<void> {
    const { server } = this.#config;
    if (this.plain) await bind(this.plain, server.port, ['server', 'port']);
    if (this.secure) {
      const own = server.tls?.port !== undefined && server.tls.port !== null;
      await bind(
        this.secure.server,
        own ? server.tls!.port! : server.port,
        own ? ['server', 'tls', 'port'] : ['server', 'port'],
      );
    }
    if (this.redirect)
      await bind(this.redirect, server.redirect_http_port!, ['server', 'redirect_http_port']);
    this.#watch();
  }

  /** The listener on server.port. */
  get primary(): PublicListener {
    return this.plain ?? this.secure!.server;
  }

  /** https when server.port speaks TLS. */
  get primaryScheme(): 'http' | 'https' {
    return this.plain ? 'http' : 'https';
  }

  get httpsUrl(): string | undefined {
    return this.secure && urlOf(this.secure.server, 'https');
  }

  get redirectUrl(): string | undefined {
    return this.redirect && urlOf(this.redirect, 'http');
  }

  /** A reloaded config whose TLS material passed its checks: swap it in if it changed. */
  applyConfig(config: Config, material: ServerTlsMaterial | undefined): void {
    if (!this.secure || !config.server.tls || !material) return;
    const changed = !sameMaterial(this.secure.selector.material, material);
    this.#tls = config.server.tls;
    if (changed) this.#swap(material, 'config reload');
    this.#watch();
  }

  close(): void {
    for (const watcher of this.#watchers) watcher.close();
    this.#watchers = [];
  }

  /** Reads the certificate files again; keeps the set in force when the new one is broken. */
  reloadCertificates(reason: string): boolean {
    if (!this.secure || !this.#tls) return false;
    const problems: Parameters<typeof loadServerTls>[2] = [];
    const warnings: Parameters<typeof loadServerTls>[3] = [];
    const material = loadServerTls(this.#tls, Date.now(), problems, warnings);
    if (problems.length > 0) {
      this.#deps.metrics.tlsReloaded(false);
      this.#deps.logger.error(
        { reason, errors: problems.map((p) => formatProblem('', p).replace(/^: /, '')) },
        'certificate reload failed; the certificates in force keep serving',
      );
      return false;
    }
    for (const warning of warnings) this.#deps.logger.warn({ path: warning.path }, warning.message);
    if (!sameMaterial(this.secure.selector.material, material)) this.#swap(material, reason);
    return true;
  }

  #swap(material: ServerTlsMaterial, reason: string): void {
    try {
      this.secure!.setMaterial(material);
    } catch (error) {
      this.#deps.metrics.tlsReloaded(false);
      this.#deps.logger.error(
        { reason, err: error },
        'certificate reload failed; the certificates in force keep serving',
      );
      return;
    }
    this.#deps.metrics.tlsReloaded(true);
    this.#deps.logger.info(
      {
        reason,
        certificates: material.certificates.map((c) => ({
          file: c.certFile,
          serial: c.serial,
          names: c.names,
        })),
      },
      'certificates reloaded',
    );
  }

  #watch(): void {
    if (!this.#deps.watch || !this.#tls) return;
    const files = [
      ...new Set([
        ...this.#tls.certificates.flatMap((c) => [c.cert_file, c.key_file]),
        ...(this.#tls.client_ca_file ? [this.#tls.client_ca_file] : []),
      ]),
    ];
    const key = files.join('\n');
    if (key === this.#watchedFiles) return;
    this.close();
    this.#watchedFiles = key;
    this.#watchers = files.map((file) =>
      watchConfigFile(
        file,
        async () => {
          this.reloadCertificates(`${file} changed`);
        },
        {
          debounceMs: this.#deps.watchDebounceMs,
          onError: (error) =>
            this.#deps.logger.warn(
              { err: error, file },
              'certificate file watch failed; a config reload still rereads it',
            ),
        },
      ),
    );
  }
}

function onRapidReset(deps: PublicListenerDeps, session: ServerHttp2Session): void {
  deps.metrics.http2RapidReset();
  deps.logger.warn(
    { client_ip: session.socket?.remoteAddress },
    'HTTP/2 client cancelled too many streams (rapid reset): GOAWAY',
  );
}

function sameMaterial(a: ServerTlsMaterial, b: ServerTlsMaterial): boolean {
  if (a.minVersion !== b.minVersion || a.certificates.length !== b.certificates.length) return false;
  if (!(a.clientCa === b.clientCa || (a.clientCa && b.clientCa && a.clientCa.equals(b.clientCa))))
    return false;
  return a.certificates.every(
    (c, i) => c.cert.equals(b.certificates[i].cert) && c.key.equals(b.certificates[i].key),
  );
}

function portOf(server: PublicListener): number {
  return (server.address() as AddressInfo).port;
}

function urlOf(server: PublicListener, scheme: 'http' | 'https'): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${address.port}`;
}
