// The one multiplexed HTTP/2 session to an instance (services.<name>.http2): ALPN h2
// on https, prior knowledge (h2c) on http. Opened on first use. A session that got
// GOAWAY, closed or failed is dropped at once, so the next stream opens a new one;
// streams already running on it finish (GOAWAY) or fail (a dead session) on their own.
import {
  type ClientHttp2Session,
  type ClientSessionOptions,
  connect,
  type SecureClientSessionOptions,
} from 'node:http2';
import type { ClientTlsOptions } from '../tls/certificates.ts';
import { connectOptions, sameClientTls } from '../tls/client-options.ts';

export interface H2SessionOptions {
  /** Deadline for the TCP (and TLS) connection and the peer's SETTINGS. */
  readonly connectTimeoutMs: number;
  /** services.<name>.tls towards an https instance: extra CA, client certificate, SNI name. */
  readonly tls: ClientTlsOptions | undefined;
}

/** Why a session could not be used: nothing reached the instance. */
export class SessionUnavailable extends Error {
  readonly code: string;
  constructor(message: string, code: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'SessionUnavailable';
    this.code = code;
  }
}

export class H2SessionSlot {
  readonly #origin: string;
  #options: H2SessionOptions;
  #session: ClientHttp2Session | undefined;
  /** Resolves when the current session has its peer's SETTINGS (or fails). */
  #ready: Promise<ClientHttp2Session> | undefined;
  readonly #all = new Set<ClientHttp2Session>();
  #closed = false;

  constructor(origin: string, options: H2SessionOptions) {
    this.#origin = origin;
    this.#options = options;
  }

  /**
   * Settings for sessions opened from now on. Changed TLS material also retires the
   * open session (gracefully: its streams finish), so no call keeps the old trust.
   */
  configure(options: H2SessionOptions): void {
    const tlsChanged = !sameClientTls(this.#options.tls, options.tls);
    this.#options = options;
    if (tlsChanged && this.#session !== undefined) {
      this.#session.close();
      this.#session = undefined;
      this.#ready = undefined;
    }
  }

  /** A connected session, the current one or a new one. Rejects with SessionUnavailable. */
  session(): Promise<ClientHttp2Session> {
    if (this.#closed) return Promise.reject(new SessionUnavailable('instance retired', 'ERR_RETIRED'));
    if (this.#ready !== undefined) return this.#ready;
    const ready = this.#open();
    this.#ready = ready;
    // A failed connect is forgotten: the next call tries again.
    ready.catch(() => {
      if (this.#ready === ready) this.#ready = undefined;
    });
    return ready;
  }

  #open(): Promise<ClientHttp2Session> {
    const { connectTimeoutMs, tls } = this.#options;
    const options: ClientSessionOptions | SecureClientSessionOptions = {
      settings: { enablePush: false },
      ...(this.#origin.startsWith('https:') ? connectOptions(tls) : undefined),
    };
    return new Promise((resolve, reject) => {
      const session = connect(this.#origin, options);
      this.#all.add(session);
      this.#session = session;
      const timer = setTimeout(() => {
        session.destroy();
        reject(new SessionUnavailable('HTTP/2 connect timed out', 'UND_ERR_CONNECT_TIMEOUT'));
      }, connectTimeoutMs);
      session.once('connect', () => {
        clearTimeout(timer);
        if (this.#origin.startsWith('https:') && session.alpnProtocol !== 'h2') {
          session.destroy();
          reject(new SessionUnavailable('the instance did not agree to h2 by ALPN', 'ERR_HTTP2_ALPN'));
          return;
        }
        resolve(session);
      });
      const forget = () => {
        if (this.#session === session) {
          this.#session = undefined;
          this.#ready = undefined;
        }
      };
      session.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        forget();
        reject(new SessionUnavailable(error.message, error.code ?? 'ECONNREFUSED', error));
      });
      // New streams go to a new session; the ones under way here finish.
      session.on('goaway', forget);
      session.on('close', () => {
        clearTimeout(timer);
        forget();
        this.#all.delete(session);
        reject(new SessionUnavailable('HTTP/2 session closed', 'ECONNRESET'));
      });
      // An idle session must not keep the process alive.
      session.unref();
    });
  }

  /**
   * No new streams; those under way finish. Called once the instance has no call in
   * flight (retirement, shutdown), so a session already closed by the instance's GOAWAY
   * carries none of ours: node can keep such a session (and its socket) open after its
   * last stream ended, and close() on it would never call back, so it is destroyed.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#ready = undefined;
    return Promise.all(
      [...this.#all].map(
        (session) =>
          new Promise<void>((resolve) => {
            if (session.destroyed) return resolve();
            session.once('close', () => resolve());
            if (session.closed) session.destroy();
            else session.close();
          }),
      ),
    ).then(() => {});
  }

  destroy(): Promise<void> {
    this.#closed = true;
    this.#ready = undefined;
    for (const session of this.#all) session.destroy();
    this.#all.clear();
    return Promise.resolve();
  }
}
