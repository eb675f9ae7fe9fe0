// Instances of a service from DNS: the A and AAAA records of one name, resolved every
// interval, each address becoming `${protocol}://${address}:${port}`. The registry
// turns set changes into new and retired instances.
//
// A failed lookup never empties a service: a family whose lookup fails keeps its
// last known addresses (a name that exists but has no record of a family, ENODATA,
// is an empty answer, not a failure). NXDOMAIN counts as a failure too, so a DNS
// hiccup cannot take every instance of a service away.
import { Resolver } from 'node:dns/promises';
import type { Logger } from 'pino';
import type { DiscoveryConfig } from '../config/schema.ts';

export interface DnsDiscoveryOptions {
  readonly service: string;
  readonly config: DiscoveryConfig;
  readonly logger: Logger;
  /** DNS servers ('127.0.0.1:5353'); the system's when absent. */
  readonly servers?: readonly string[];
  /** Called with the sorted instance URLs whenever a resolution changes them. */
  readonly onChange: (urls: readonly string[]) => void;
}

export class DnsDiscovery {
  readonly config: DiscoveryConfig;
  readonly #log: Logger;
  readonly #onChange: (urls: readonly string[]) => void;
  readonly #resolver: Resolver;
  #v4: readonly string[] = [];
  #v6: readonly string[] = [];
  #published: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #first: Promise<void> | undefined;

  constructor(options: DnsDiscoveryOptions) {
    this.config = options.config;
    this.#onChange = options.onChange;
    this.#log = options.logger.child({ service: options.service, dns: options.config.dns });
    // Lookups are chained (the next starts an interval after one ends), so a slow
    // server delays discovery but never piles lookups up.
    this.#resolver = new Resolver({ timeout: 2_000, tries: 2 });
    if (options.servers) this.#resolver.setServers(options.servers);
  }

  /** Resolves at once, then every interval. */
  start(): void {
    if (this.#first || this.#stopped) return;
    this.#first = this.#tick();
  }

  /** Resolves when the first lookup has finished, successful or not. */
  async ready(): Promise<void> {
    await this.#first;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#resolver.cancel();
  }

  async #tick(): Promise<void> {
    await this.refresh();
    if (!this.#stopped) this.#timer = setTimeout(() => void this.#tick(), this.config.interval).unref();
  }

  /** One lookup of both families; publishes the set when it changed. */
  async refresh(): Promise<void> {
    const [v4, v6] = await Promise.all([this.#lookup('A'), this.#lookup('AAAA')]);
    if (this.#stopped) return;
    if (v4 instanceof Error && v6 instanceof Error) {
      this.#log.warn({ err: v4 }, 'DNS discovery failed, keeping the last known instances');
      return;
    }
    for (const [type, result] of [
      ['A', v4],
      ['AAAA', v6],
    ] as const) {
      if (result instanceof Error)
        this.#log.warn({ type, err: result }, 'DNS lookup failed, keeping its last known addresses');
    }
    if (!(v4 instanceof Error)) this.#v4 = v4;
    if (!(v6 instanceof Error)) this.#v6 = v6;
    const { protocol, port } = this.config;
    const urls = [
      ...this.#v4.map((address) => `${protocol}://${address}:${port}`),
      ...this.#v6.map((address) => `${protocol}://[${address}]:${port}`),
    ].sort();
    const fingerprint = urls.join(' ');
    if (fingerprint === this.#published) return;
    this.#published = fingerprint;
    this.#log.info({ instances: urls }, 'DNS discovery: instance set changed');
    this.#onChange(urls);
  }

  /** The addresses of one family, or the error of a failed lookup. */
  async #lookup(type: 'A' | 'AAAA'): Promise<readonly string[] | Error> {
    try {
      const addresses =
        type === 'A'
          ? await this.#resolver.resolve4(this.config.dns)
          : await this.#resolver.resolve6(this.config.dns);
      return [...new Set(addresses)];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENODATA') return [];
      return error instanceof Error ? error : new Error(String(error));
    }
  }
}
