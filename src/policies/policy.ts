// The contract between the data plane and the policies (CORS, auth, rate limit).
// Each policy module exports a factory that validates and precomputes at config time
// and returns a Policy, or null when it has nothing to do on that route; the runtime
// compiles the non-null ones into a fixed-order chain per route.
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';

export interface Identity {
  readonly userId: string;
  readonly roles: readonly string[];
}

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly requestId: string;
  /** Child logger that carries the request id. */
  readonly log: Logger;
  /** The client's address: the peer, or the right-most untrusted X-Forwarded-For hop. */
  readonly clientIp: string;
  /** The matched route's configured path: a stable name for keys, logs and metrics. */
  readonly routeName: string;
  /** Arrived over HTTPS: the gateway's own TLS, or a trusted proxy's X-Forwarded-Proto: https. */
  readonly secure?: boolean;
  /** Subject of the client certificate verified in the TLS handshake (mTLS), e.g. "CN=alice, O=Example". */
  readonly clientCertSubject?: string;
  /** Set by the auth policy when a valid token was presented. */
  identity: Identity | undefined;
  /** Headers added to whatever the gateway answers, proxied or its own error. */
  readonly responseHeaders: Record<string, string>;
}

/** An answer given by the gateway itself, ending the chain (a CORS preflight). */
export interface LocalReply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * One step of a route's chain. Returns nothing to continue, a LocalReply to answer
 * without forwarding, or throws a GatewayError to answer with an error.
 * Synchronous policies stay synchronous so the common path allocates no promise.
 */
export type Policy = (ctx: RequestContext) => LocalReply | undefined | Promise<LocalReply | undefined>;
