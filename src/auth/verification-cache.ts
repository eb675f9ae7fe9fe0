// Remembers verdicts by SHA-256 of the whole Authorization value, so the cache never
// keeps a token (a connection remembers its own last one while it is open:
// connection-credential.ts). Two LRU caches, each bounded by cache_max_entries: valid
// tokens (trusted for min(cache_ttl, exp - now)) and refused ones (negative_cache_ttl).
// They are separate so a flood of distinct bad tokens can evict only bad tokens.
// Expiry is stored with each entry and checked against the injected clock, so tests
// move time by hand; an expired entry reads as a miss and is dropped.
import { hash } from 'node:crypto';
import { LruMap } from '../cache/lru-map.ts';
import type { Clock } from '../clock.ts';
import type { Identity } from './identity.ts';
import type { RejectReason } from './verifier.ts';

export interface VerificationCacheOptions {
  readonly maxEntries: number;
  /** Longest time a valid token is trusted without asking again. */
  readonly ttlMs: number;
  /** How long a refused token is remembered. */
  readonly negativeTtlMs: number;
  readonly clock: Clock;
}

export type CachedVerdict =
  | { readonly valid: true; readonly identity: Identity }
  | { readonly valid: false; readonly reason: RejectReason };

interface ValidEntry {
  readonly identity: Identity;
  readonly expiresAt: number;
}

/** The cache key of a credential: never the credential itself. (One-shot hash: no Hash object per request.) */
export function credentialKey(authorization: string): string {
  return hash('sha256', authorization, 'base64url');
}

export class VerificationCache {
  readonly #options: VerificationCacheOptions;
  readonly #valid: LruMap<string, ValidEntry>;
  /** Key -> expiry time of the refusal. */
  readonly #invalid: LruMap<string, { readonly until: number; readonly reason: RejectReason }>;

  constructor(options: VerificationCacheOptions) {
    this.#options = options;
    // Both grow with the credentials seen, up to maxEntries: nothing is allocated for the bound.
    this.#valid = new LruMap(options.maxEntries);
    this.#invalid = new LruMap(options.maxEntries);
  }

  get(key: string): CachedVerdict | undefined {
    const now = this.#options.clock();
    const valid = this.#valid.get(key);
    if (valid !== undefined) {
      if (valid.expiresAt > now) return { valid: true, identity: valid.identity };
      this.#valid.delete(key);
    }
    const invalid = this.#invalid.get(key);
    if (invalid !== undefined) {
      if (invalid.until > now) return { valid: false, reason: invalid.reason };
      this.#invalid.delete(key);
    }
    return undefined;
  }

  /**
   * Trusts a valid credential for min(ttl, expiresAtMs - now). One that is already
   * past its exp is not cached at all: the next request asks again.
   */
  setValid(key: string, identity: Identity, expiresAtMs: number | undefined): void {
    const now = this.#options.clock();
    const expiresAt = Math.min(now + this.#options.ttlMs, expiresAtMs ?? Number.POSITIVE_INFINITY);
    this.#invalid.delete(key);
    if (expiresAt > now) this.#valid.set(key, { identity, expiresAt });
    else this.#valid.delete(key);
  }

  setInvalid(key: string, reason: RejectReason): void {
    this.#valid.delete(key);
    this.#invalid.set(key, { until: this.#options.clock() + this.#options.negativeTtlMs, reason });
  }

  /** Entries held, expired ones included until they are read or evicted. */
  get size(): { readonly valid: number; readonly invalid: number } {
    return { valid: this.#valid.size, invalid: this.#invalid.size };
  }

  clear(): void {
    this.#valid.clear();
    this.#invalid.clear();
  }
}
