// Buckets in Redis, shared by every gateway pointing at it. One EVALSHA per request
// decides all its scopes atomically (redis-script.ts).
//
// A limiter must never make requests wait for Redis: every call has a deadline
// (redis_timeout), and while Redis is down, frozen, slow or failing, on_store_error
// decides at once. Nothing is queued for a reconnection (offline queue off, no resend
// of unanswered commands: those requests were already decided by the fallback), and
// the client reconnects forever with capped, jittered backoff, so limits apply again
// as soon as Redis is back. A frozen Redis accepts commands and never answers, so the
// number of unanswered calls is capped (maxPending) to keep memory bounded. A socket
// that stays open but silent (a partition without RST, a long freeze, a handshake that
// never completes) would otherwise hold the store in fallback for the kernel's TCP
// timeout, ~15 minutes, even after a failover: past stallTimeoutMs of silence with
// calls waiting, the connection is dropped and made again.
//
// Script loading: ioredis's defineCommand sends the script body once per connection
// (EVAL, which loads it) and EVALSHA afterwards; on NOSCRIPT (SCRIPT FLUSH, a failover
// to a replica without it) it resends the body. A restarted Redis therefore needs no
// extra round trip: the new connection starts with EVAL.
//
// Not for Redis Cluster: one call touches the global key and per-client keys, which
// cannot share a hash slot.

import type { RedisOptions } from 'ioredis';
import { Redis } from 'ioredis';
import type { Clock, Schedule } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { ThrottledLog } from '../observability/throttled-log.ts';
import { fallbackResult } from './decision.ts';
import type { BucketLimits } from './gcra.ts';
import { gcraInterval, TICKS_PER_MS } from './gcra.ts';
import { TAKE_SCRIPT } from './redis-script.ts';
import type { BucketStore, StoreErrorReason, TakeResult } from './store.ts';
export interface StoreLogger {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

export interface RedisStoreOptions {
  /** redis:// or rediss:// URL (rate_limit.redis_url). */
  readonly url: string;
  /** Namespace of every key (rate_limit.key_prefix). */
  readonly keyPrefix: string;
  /** Deadline of one decision in ms (rate_limit.redis_timeout). */
  readonly timeoutMs: number;
  /** What to answer when Redis cannot decide (rate_limit.on_store_error). */
  readonly fallback: 'allow' | 'deny';
  readonly logger?: StoreLogger;
  /** Called for every decision taken by `fallback`, e.g. to count it in a metric. */
  readonly onStoreError?: (decision: 'allow' | 'deny', reason: StoreErrorReason) => void;
  /** Unanswered calls allowed at once; past it, decide by fallback without asking. Default 4096. */
  readonly maxPending?: number;
  /** Longest wait between reconnection attempts in ms. Default 2000. */
  readonly maxReconnectDelayMs?: number;
  /** Silence (no reply while calls wait, or no handshake) after which the connection is remade. Default max(2000, 20 x timeoutMs). */
  readonly stallTimeoutMs?: number;
  /** Least time between two warnings of the same kind in ms. Default 5000. */
  readonly logIntervalMs?: number;
  /** For stall detection; Redis's TIME is the bucket clock. */
  readonly clock?: Clock;
  /** Timers of the log throttling (real, unref'd, by default). */
  readonly schedule?: Schedule;
  /** Extra ioredis options (TLS, auth); the ones this store depends on cannot be overridden. */
  readonly redisOptions?: RedisOptions;
}

interface TakeCommand {
  gatehouseTake(args: readonly (string | number)[]): Promise<unknown>;
}

const NO_LOG: StoreLogger = { warn() {}, info() {} };

export class RedisBucketStore implements BucketStore {
  readonly #client: Redis & TakeCommand;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #allow: boolean;
  readonly #maxPending: number;
  readonly #onStoreError: ((decision: 'allow' | 'deny', reason: StoreErrorReason) => void) | undefined;
  readonly #log: StoreLogger;
  /** One warning per kind (connection error, fallback by reason) per interval. */
  readonly #warnings: ThrottledLog;
  /** ARGV per limits array: policies pass the same array for every request of a route. */
  readonly #argvCache = new WeakMap<readonly BucketLimits[], readonly string[]>();
  readonly #fallbackCounts: Record<StoreErrorReason, number> = {
    disconnected: 0,
    timeout: 0,
    overloaded: 0,
    error: 0,
    closed: 0,
  };
  #fallbacks = 0;
  #pending = 0;
  #closed = false;
  #wasReady = false;
  #down = false;
  readonly #clock: Clock;
  readonly #stallMs: number;
  /** Last sign of life: a reply (even an error reply), a connection, or a forced reconnect. */
  #aliveAt: number;

  constructor(options: RedisStoreOptions) {
    this.#prefix = options.keyPrefix;
    this.#timeoutMs = options.timeoutMs;
    this.#allow = options.fallback === 'allow';
    this.#maxPending = options.maxPending ?? 4096;
    this.#onStoreError = options.onStoreError;
    this.#log = options.logger ?? NO_LOG;
    const clock = options.clock ?? systemClock;
    this.#clock = clock;
    this.#stallMs = options.stallTimeoutMs ?? Math.max(2000, 20 * options.timeoutMs);
    this.#aliveAt = clock();
    const logInterval = options.logIntervalMs ?? 5000;
    this.#warnings = new ThrottledLog((fields, message) => this.#log.warn(fields, message), {
      intervalMs: logInterval,
      schedule: options.schedule,
    });
    const maxDelay = options.maxReconnectDelayMs ?? 2000;

    const client = new Redis(options.url, {
      connectTimeout: 2000,
      // A disconnect half-closes and waits this long for the peer before destroying
      // the socket; a silent peer never answers, and meanwhile the client still looks
      // ready and takes calls. A healthy Redis closes in well under this.
      disconnectTimeout: 200,
      ...options.redisOptions,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      lazyConnect: false,
      // Never returns null: reconnect forever. Equal jitter keeps a fleet of gateways
      // from reconnecting in lockstep after a Redis restart.
      retryStrategy: (attempt) => {
        const ceiling = Math.min(maxDelay, 50 * 2 ** Math.min(attempt, 16));
        return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
      },
    });
    client.defineCommand('gatehouseTake', { lua: TAKE_SCRIPT });
    // Without an 'error' listener an EventEmitter throws, and a Redis outage would
    // crash the gateway.
    client.on('error', (error: Error) => {
      this.#down = true;
      this.#warnings.log('connection', { err: error.message }, 'rate limit store: Redis connection error');
    });
    client.on('connect', () => {
      this.#aliveAt = clock();
    });
    client.on('close', () => {
      if (this.#wasReady && !this.#closed) this.#down = true;
    });
    client.on('ready', () => {
      if (this.#down) this.#log.info({}, 'rate limit store: Redis is back, limits apply again');
      this.#wasReady = true;
      this.#down = false;
    });
    this.#client = client as Redis & TakeCommand;
  }

  /** Decisions taken by on_store_error since start, in total. */
  get fallbackCount(): number {
    return this.#fallbacks;
  }

  /** The same, by reason. */
  get fallbackCounts(): Readonly<Record<StoreErrorReason, number>> {
    return { ...this.#fallbackCounts };
  }

  /** True while connected and able to decide. */
  get ready(): boolean {
    return this.#client.status === 'ready';
  }

  take(keys: readonly string[], limits: readonly BucketLimits[]): TakeResult | Promise<TakeResult> {
    // Answered synchronously: no promise, no timer while Redis is known to be away.
    if (this.#closed) return this.#fallback('closed', undefined);
    if (this.#client.status !== 'ready') return this.#fallback('disconnected', undefined);
    if (this.#pending >= this.#maxPending) return this.#fallback('overloaded', undefined);

    const argv = this.#argv(limits);
    const n = keys.length;
    const args: (string | number)[] = new Array(1 + n + argv.length);
    args[0] = n;
    for (let i = 0; i < n; i++) args[1 + i] = this.#prefix + keys[i];
    for (let i = 0; i < argv.length; i++) args[1 + n + i] = argv[i];

    this.#pending++;
    const reply = this.#client.gatehouseTake(args);
    return new Promise<TakeResult>((resolve) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        resolve(this.#fallback('timeout', undefined));
      }, this.#timeoutMs);
      reply.then(
        (value) => {
          this.#pending--;
          this.#aliveAt = this.#clock();
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(
            parseReply(value) ??
              this.#fallback('error', new Error(`unexpected script reply: ${String(value)}`)),
          );
        },
        (error: unknown) => {
          this.#pending--;
          this.#aliveAt = this.#clock();
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(this.#fallback('error', error));
        },
      );
    });
  }

  /** Closes the connection (QUIT, bounded by the timeout); later calls answer by on_store_error. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#warnings.flush();
    if (this.#client.status === 'ready') {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.#client.quit().catch(() => undefined),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.max(this.#timeoutMs, 1000));
        }),
      ]);
      clearTimeout(timer);
    }
    this.#client.disconnect();
  }

  #fallback(reason: StoreErrorReason, error: unknown): TakeResult {
    this.#fallbacks++;
    this.#fallbackCounts[reason]++;
    this.#onStoreError?.(this.#allow ? 'allow' : 'deny', reason);
    if (reason !== 'closed') {
      if (reason !== 'error') this.#reconnectIfStalled();
      this.#warnings.log(
        `fallback:${reason}`,
        {
          reason,
          on_store_error: this.#allow ? 'allow' : 'deny',
          err: error instanceof Error ? error.message : undefined,
        },
        'rate limit store could not decide; on_store_error decided',
      );
    }
    return fallbackResult(this.#allow, reason);
  }

  #reconnectIfStalled(): void {
    const status = this.#client.status;
    const waiting = (status === 'ready' && this.#pending > 0) || status === 'connect';
    const now = this.#clock();
    if (!waiting || now - this.#aliveAt < this.#stallMs) return;
    this.#aliveAt = now;
    this.#log.warn(
      { silent_ms: this.#stallMs, pending: this.#pending },
      'rate limit store: Redis is silent; reconnecting',
    );
    this.#client.disconnect(true);
  }

  #argv(limits: readonly BucketLimits[]): readonly string[] {
    let argv = this.#argvCache.get(limits);
    if (argv === undefined) {
      const built: string[] = [];
      // String(double) is the shortest text that parses back to the same double, and
      // the interval is on the grid, so Lua sees exactly the interval gcra.ts uses.
      for (const limit of limits) built.push(String(gcraInterval(limit.rate)), String(limit.burst));
      built.push(String(TICKS_PER_MS));
      argv = built;
      this.#argvCache.set(limits, argv);
    }
    return argv;
  }
}

function parseReply(value: unknown): TakeResult | undefined {
  if (!Array.isArray(value) || value.length !== 5) return undefined;
  const [allowed, scope, remaining, resetMs, retryAfterMs] = value as unknown[];
  if (
    typeof allowed !== 'number' ||
    typeof scope !== 'number' ||
    typeof remaining !== 'number' ||
    typeof resetMs !== 'number' ||
    typeof retryAfterMs !== 'number'
  ) {
    return undefined;
  }
  return { allowed: allowed === 1, scope, remaining, resetMs, retryAfterMs, fallback: undefined };
}
