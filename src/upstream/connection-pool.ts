// The keep-alive connections to one instance. A reload that changes the pool settings
// gets a new undici Pool at once; the old one is closed gracefully (undici's close()
// lets requests already dispatched on it finish) and kept until then, so destroy()
// can still abort them at shutdown.

import type { ServiceConfig } from '../config/schema.ts';
import type { ClientTlsOptions } from '../tls/certificates.ts';
import { sameClientTls } from '../tls/client-options.ts';
import { httpConnector } from './interim-continue.ts';
import { Pool } from './undici-parts.ts';

export interface PoolSettings {
  readonly connectTimeout: number;
  readonly keepAliveTimeout: number;
  readonly connections: number;
  /** services.<name>.tls, read and checked at compile: CA, client certificate, SNI name. */
  readonly tls: ClientTlsOptions | undefined;
}

/** The pool settings a service config describes. */
export function poolSettings(config: ServiceConfig, tls?: ClientTlsOptions): PoolSettings {
  return {
    connectTimeout: config.connect_timeout,
    keepAliveTimeout: config.keep_alive_timeout,
    connections: config.max_connections,
    tls,
  };
}

export function samePoolSettings(a: PoolSettings, b: PoolSettings): boolean {
  return (
    a.connectTimeout === b.connectTimeout &&
    a.keepAliveTimeout === b.keepAliveTimeout &&
    a.connections === b.connections &&
    sameClientTls(a.tls, b.tls)
  );
}

export class ConnectionPool {
  readonly #origin: string;
  #settings: PoolSettings;
  #current: Pool;
  /** Pools replaced by a settings change, still finishing their requests. */
  readonly #draining = new Set<Pool>();

  constructor(origin: string, settings: PoolSettings) {
    this.#origin = origin;
    this.#settings = settings;
    this.#current = createPool(origin, settings);
  }

  /** The TLS settings of the current pool, for the health checker's probes. */
  get tls(): ClientTlsOptions | undefined {
    return this.#settings.tls;
  }

  /** The pool new requests go to. */
  get current(): Pool {
    return this.#current;
  }

  /** Replaces the pool when the settings changed; returns whether it did. */
  reconfigure(settings: PoolSettings): boolean {
    if (samePoolSettings(settings, this.#settings)) return false;
    const old = this.#current;
    this.#settings = settings;
    this.#current = createPool(this.#origin, settings);
    this.#draining.add(old);
    void old
      .close()
      .catch(() => {})
      .finally(() => this.#draining.delete(old));
    return true;
  }

  /** Closes every pool; requests already dispatched finish first. */
  async close(): Promise<void> {
    await Promise.all([this.#current, ...this.#draining].map((pool) => pool.close().catch(() => {})));
  }

  /** Aborts everything in flight on every pool. */
  async destroy(): Promise<void> {
    await Promise.all([this.#current, ...this.#draining].map((pool) => pool.destroy().catch(() => {})));
  }
}

function createPool(origin: string, settings: PoolSettings): Pool {
  const { connectTimeout, keepAliveTimeout, connections } = settings;
  return new Pool(origin, {
    // Certificates are always verified: there is no option to skip it.
    connect: httpConnector(settings.tls, connectTimeout),
    connections,
    // One request at a time per connection: the interim-answer filter relies on it.
    pipelining: 1,
    keepAliveTimeout,
    // A server's Keep-Alive hint may shorten our idle time but never lengthen it.
    keepAliveMaxTimeout: keepAliveTimeout,
  });
}
