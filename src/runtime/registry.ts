// Long-lived state that outlives any one config snapshot: upstream instances (pools,
// health, breakers), the authenticator (cache, auth-service pool) and the rate-limit
// store (buckets, Redis connection). apply() asks for them with each compiled config;
// each is rebuilt only when the settings it depends on changed. A replaced component
// is not closed here: its close is handed back in `retire`, which the runtime holder
// runs once the last request pinned to the old snapshot has ended.
import type { Logger } from 'pino';
import { type ApiKeyStore, createApiKeyStore } from '../auth/api-keys.ts';
import type { CompiledApiKeys } from '../auth/api-keys-compile.ts';
import { type Authenticator, createAuthenticator } from '../auth/authenticator.ts';
import type { AuthConfig, Config, RateLimitConfig } from '../config/schema.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { lazyOwnModule } from '../own-modules.ts';
import { createPolicyEvents, type PolicyEvents } from '../policies/events.ts';
import { MemoryBucketStore } from '../ratelimit/memory-store.ts';
import type { BucketStore } from '../ratelimit/store.ts';
import type { ClientTlsOptions, TlsMaterial } from '../tls/certificates.ts';
import { clientTlsDigest } from '../tls/client-options.ts';
import { UpstreamRegistry } from '../upstream/registry.ts';
import type { ServicePool } from '../upstream/service-pool.ts';
import { SharedBucketStore, type SharedBuckets } from '../workers/shared-bucket-store.ts';

// The Redis store pulls in ioredis (about 10 MB resident and most of a second of start
// on a busy machine): it is loaded, synchronously, only when a config uses store: redis.
const redisStoreModule = lazyOwnModule<typeof import('../ratelimit/redis-store.ts')>(
  '../ratelimit/redis-store.ts',
  import.meta.url,
);

interface Held<T> {
  readonly fingerprint: string;
  readonly value: T;
}

/** What a snapshot uses from the registry, and how to retire what it replaced. */
export interface Components {
  readonly pools: ReadonlyMap<string, ServicePool>;
  readonly authenticator: Authenticator | undefined;
  readonly bucketStore: BucketStore | undefined;
  /** The API keys in force (watched keys file); undefined without an api_keys section. */
  readonly apiKeys: ApiKeyStore | undefined;
  readonly policyEvents: PolicyEvents;
  /** Closes the components the new snapshot no longer uses; run once the old snapshot is released. */
  readonly retire: () => void;
}

interface Closeable {
  close(): Promise<void>;
}

export class GatewayRegistry {
  readonly upstreams: UpstreamRegistry;
  /** Where every snapshot's policy chains report rejections (metrics) and failures (throttled log). */
  readonly policyEvents: PolicyEvents;
  readonly #logger: Logger;
  readonly #metrics: () => GatewayMetrics | undefined;
  #authenticator: Held<Authenticator> | undefined;
  #bucketStore: Held<BucketStore> | undefined;
  #apiKeys: Held<ApiKeyStore> | undefined;
  #closed = false;
  /** Replaced components being closed. */
  readonly #retiring = new Set<Promise<void>>();

  readonly #sharedBuckets: SharedBuckets | undefined;

  /**
   * `sharedBuckets`: set in a worker of server.workers, where the memory store's buckets
   * live in memory every worker shares (one budget for the whole gateway).
   */
  constructor(
    logger: Logger,
    metrics: () => GatewayMetrics | undefined,
    dnsServers?: readonly string[],
    sharedBuckets?: SharedBuckets,
  ) {
    this.#sharedBuckets = sharedBuckets;
    this.#logger = logger;
    this.#metrics = metrics;
    this.upstreams = new UpstreamRegistry({ logger, dnsServers });
    this.policyEvents = createPolicyEvents(logger, (route, policy, code) =>
      this.#metrics()?.policyRejected(route, policy, code),
    );
  }

  /**
   * The components for a compiled config: new ones are created first, then the held
   * ones replaced, so a throw (a bug: compile has run every check) changes nothing.
   * The upstream registry goes last; it cannot fail on a compiled config.
   */
  componentsFor(config: Config, tls?: TlsMaterial, apiKeysPlan?: CompiledApiKeys): Components {
    // A reload that arrives while the gateway stops would create what nobody closes.
    if (this.#closed) throw new Error('the gateway is shutting down');
    const replaced: (() => void)[] = [];
    // auth.tls names files: their contents count too, as they are reread on every reload.
    const authSettings = config.auth && { auth: config.auth, tls: clientTlsDigest(tls?.auth) };
    const authenticator = this.#reuseOrCreate(
      this.#authenticator,
      authSettings,
      ({ auth }: { auth: AuthConfig }) => this.#createAuthenticator(auth, tls?.auth),
    );
    const bucketStore = this.#reuseOrCreate(this.#bucketStore, storeSettings(config.rate_limit), () =>
      this.#createBucketStore(config.rate_limit as RateLimitConfig),
    );
    const keysSettings = apiKeysPlan && { file: apiKeysPlan.file, header: apiKeysPlan.header };
    const apiKeys = this.#reuseOrCreate(this.#apiKeys, keysSettings, (settings) =>
      createApiKeyStore(settings.file, settings.header, apiKeysPlan!.keys, {
        logger: this.#logger.child({ component: 'api_keys' }),
      }),
    );
    const pools = this.upstreams.sync(config.services, (retire) => replaced.push(retire), tls?.services);

    if (authenticator !== this.#authenticator) {
      const old = this.#authenticator?.value;
      if (old) replaced.push(() => this.#close(old));
      this.#authenticator = authenticator;
    }
    if (bucketStore !== this.#bucketStore) {
      const old = this.#bucketStore?.value;
      if (old) replaced.push(() => this.#close(old));
      this.#bucketStore = bucketStore;
    }
    if (apiKeys !== this.#apiKeys) {
      const old = this.#apiKeys?.value;
      if (old) replaced.push(() => this.#close(old));
      this.#apiKeys = apiKeys;
    } else if (apiKeys && apiKeysPlan) {
      // The same file: a config reload read it again, so its current content is in force now.
      apiKeys.value.replace(apiKeysPlan.keys);
    }
    return {
      pools,
      authenticator: authenticator?.value,
      bucketStore: bucketStore?.value,
      apiKeys: apiKeys?.value,
      policyEvents: this.policyEvents,
      retire: () => {
        for (const retire of replaced) retire();
      },
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([
      this.upstreams.close(),
      this.#authenticator?.value.close(),
      this.#bucketStore?.value.close(),
      this.#apiKeys?.value.close(),
      ...this.#retiring,
    ]);
  }

  #reuseOrCreate<C, T>(
    held: Held<T> | undefined,
    config: C | undefined,
    create: (config: C) => T,
  ): Held<T> | undefined {
    const fingerprint = config === undefined ? '' : JSON.stringify(config);
    if (held && held.fingerprint === fingerprint) return held;
    return config === undefined ? undefined : { fingerprint, value: create(config) };
  }

  /**
   * In a method of its own, not inline in componentsFor: V8 gives all the closures of
   * one function one shared context, so an onVerifyCall made there would hold
   * componentsFor's `replaced` list, whose retire closures hold the previous
   * authenticator: each authenticator kept the one before it alive, without end
   * (test/gateway/fault-soak.test.ts, "free the old one").
   */
  #createAuthenticator(auth: AuthConfig, tls: ClientTlsOptions | undefined): Authenticator {
    return createAuthenticator(auth, {
      logger: this.#logger.child({ component: 'auth' }),
      onVerifyCall: (result: string) => this.#metrics()?.authCall(result),
      tls,
    });
  }

  /**
   * rate_limit.store -> a store, chosen here by its holder (the store contract knows no
   * implementation). It is long-lived: a reload that keeps the store's own settings
   * keeps it, or every client would get a fresh bucket on each reload.
   */
  #createBucketStore(config: RateLimitConfig): BucketStore {
    if (config.store === 'memory') {
      return this.#sharedBuckets
        ? new SharedBucketStore(this.#sharedBuckets)
        : new MemoryBucketStore({ maxEntries: config.max_clients });
    }
    return new (redisStoreModule().RedisBucketStore)({
      url: config.redis_url,
      keyPrefix: config.key_prefix,
      timeoutMs: config.redis_timeout,
      fallback: config.on_store_error,
      logger: this.#logger.child({ component: 'rate_limit' }),
      onStoreError: (decision) => this.#metrics()?.storeError(decision),
    });
  }

  #close(component: Closeable): void {
    const closing = component
      .close()
      .catch((error: unknown) => this.#logger.warn({ err: error }, 'closing a replaced component failed'))
      .finally(() => this.#retiring.delete(closing));
    this.#retiring.add(closing);
  }
}

/** Only the store's own settings matter: changed limits reuse the buckets. */
function storeSettings(config: RateLimitConfig | undefined) {
  return (
    config && {
      store: config.store,
      redis_url: config.redis_url,
      redis_timeout: config.redis_timeout,
      on_store_error: config.on_store_error,
      key_prefix: config.key_prefix,
      max_clients: config.max_clients,
    }
  );
}
