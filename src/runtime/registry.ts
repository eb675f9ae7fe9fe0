// Long-lived state that outlives any one config snapshot: upstream instances (pools,
// health, breakers), the authenticator (cache, auth-service pool) and the rate-limit
// store (buckets, Redis connection). A reload asks for them again with the new
// config; each is rebuilt only when the settings it depends on changed.
import type { Logger } from 'pino';
import { type Authenticator, createAuthenticator } from '../auth/authenticator.ts';
import type { AuthConfig, RateLimitConfig } from '../config/schema.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { createPolicyEvents, type PolicyEvents } from '../policies/events.ts';
import { type BucketStore, createBucketStore } from '../ratelimit/store.ts';
import { UpstreamRegistry } from '../upstream/registry.ts';

interface Held<T> {
  readonly fingerprint: string;
  readonly value: T;
}

export class GatewayRegistry {
  readonly upstreams: UpstreamRegistry;
  /** Where every snapshot's policy chains report rejections (metrics) and failures (throttled log). */
  readonly policyEvents: PolicyEvents;
  readonly #logger: Logger;
  readonly #metrics: () => GatewayMetrics | undefined;
  #authenticator: Held<Authenticator> | undefined;
  #bucketStore: Held<BucketStore> | undefined;
  /** Replaced components, closed once the requests that pinned them are done. */
  readonly #retiring = new Set<Promise<void>>();

  constructor(logger: Logger, metrics: () => GatewayMetrics | undefined, dnsServers?: readonly string[]) {
    this.#logger = logger;
    this.#metrics = metrics;
    this.upstreams = new UpstreamRegistry({ logger, dnsServers });
    this.policyEvents = createPolicyEvents(logger, (route, policy, code) =>
      this.#metrics()?.policyRejected(route, policy, code),
    );
  }

  authenticatorFor(config: AuthConfig | undefined): Authenticator | undefined {
    this.#authenticator = this.#reuseOrReplace(this.#authenticator, config, (auth) =>
      createAuthenticator(auth, {
        logger: this.#logger.child({ component: 'auth' }),
        onVerifyCall: (result: string) => this.#metrics()?.authCall(result),
      }),
    );
    return this.#authenticator?.value;
  }

  bucketStoreFor(config: RateLimitConfig | undefined): BucketStore | undefined {
    // Only the store's own settings matter: changed limits reuse the buckets.
    const storeSettings = config && {
      store: config.store,
      redis_url: config.redis_url,
      redis_timeout: config.redis_timeout,
      on_store_error: config.on_store_error,
      key_prefix: config.key_prefix,
      max_clients: config.max_clients,
    };
    this.#bucketStore = this.#reuseOrReplace(this.#bucketStore, storeSettings, () =>
      createBucketStore(config!, {
        logger: this.#logger.child({ component: 'rate_limit' }),
        onStoreError: (decision: 'allow' | 'deny') => this.#metrics()?.storeError(decision),
      }),
    );
    return this.#bucketStore?.value;
  }

  async close(): Promise<void> {
    await Promise.all([
      this.upstreams.close(),
      this.#authenticator?.value.close(),
      this.#bucketStore?.value.close(),
      ...this.#retiring,
    ]);
  }

  #reuseOrReplace<C, T extends { close(): Promise<void> }>(
    held: Held<T> | undefined,
    config: C | undefined,
    create: (config: C) => T,
  ): Held<T> | undefined {
    const fingerprint = config === undefined ? '' : JSON.stringify(config);
    if (held && held.fingerprint === fingerprint) return held;
    if (held) this.#retire(held.value);
    return config === undefined ? undefined : { fingerprint, value: create(config) };
  }

  #retire(component: { close(): Promise<void> }): void {
    const closing = component
      .close()
      .catch((error: unknown) => this.#logger.warn({ err: error }, 'closing a replaced component failed'))
      .finally(() => this.#retiring.delete(closing));
    this.#retiring.add(closing);
  }
}
