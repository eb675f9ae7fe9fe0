// The contract between the data plane and the policies: the built-in ones (CORS, ip,
// auth, roles, rate limit) and the plugins users write. A policy sees a narrow view of
// the request, never the connection or the IncomingMessage: what it may read, and the
// two things it may change (a header sent upstream, a header added to the answer).
// Each policy module exports a factory that validates and precomputes at config time;
// src/policies/chain.ts compiles a route's policies into one chain and
// src/policies/runner.ts walks it, synchronously until a policy returns a promise.
import type { IncomingHttpHeaders } from 'node:http';
import type { Identity } from '../auth/identity.ts';

export type { Identity } from '../auth/identity.ts';

/** What a policy sees of a request. */
export interface PolicyRequest {
  readonly method: string;
  /** The normalized path the route matched (dot segments resolved, before strip_prefix). */
  readonly path: string;
  /** The query string without its `?` ('' when none), as the client sent it. */
  readonly query: string;
  /** Request headers, names lower-case. Read-only: use setUpstreamHeader to change what is forwarded. */
  readonly headers: Readonly<IncomingHttpHeaders>;
  /** The client's address: the peer, or the right-most untrusted X-Forwarded-For hop. */
  readonly clientIp: string;
  readonly requestId: string;
  /** The matched route's configured path: a stable name for keys, logs and metrics. */
  readonly route: string;
  /** Arrived over HTTPS: the gateway's own TLS, or a trusted proxy's X-Forwarded-Proto: https. */
  readonly secure: boolean;
  /** Subject of the client certificate verified in the TLS handshake (mTLS), e.g. "CN=alice, O=Example". */
  readonly clientCertSubject: string | undefined;
  /** Who the request acts for, once the auth policy ran and found a credential. */
  readonly identity: Identity | undefined;
  /** The request's logger: every line carries its request_id. */
  readonly log: PolicyLogger;
  /**
   * Sets a header on the request sent upstream, replacing any client copy. Throws
   * (the request then fails with 500) for a value holding CR, LF, NUL or another
   * control character, and for names the gateway owns: hop-by-hop and framing
   * headers, Host, X-Forwarded-*, X-Request-ID, traceparent and the identity headers.
   */
  setUpstreamHeader(name: string, value: string): void;
  /** Adds a header to whatever the gateway answers, proxied or its own error; same checks. */
  setResponseHeader(name: string, value: string): void;
}

/** The slice of the gateway's (pino) logger a policy uses: fields first, then the message. */
export interface PolicyLogger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/** An answer given by the gateway itself, ending the chain (a CORS preflight, a plugin's reply). */
export interface LocalReply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
}

/** Nothing (continue with the next policy) or a local answer. */
// biome-ignore lint/suspicious/noConfusingVoidType: a policy written as a block without `return` returns void.
export type PolicyResult = LocalReply | undefined | void;

/**
 * One step of a route's chain. Returns nothing to continue, a LocalReply to answer
 * without forwarding, or throws a GatewayError to answer with an error. Synchronous
 * policies stay synchronous: the runner makes no promise unless a policy returns one.
 */
export type Policy = (request: PolicyRequest) => PolicyResult | Promise<PolicyResult>;

/** What the gateway's own steps get on top of the view. */
export interface ChainRequest extends PolicyRequest {
  /** Set by the auth step only. */
  identity: Identity | undefined;
  /** The header fields as received, for checks that need every copy (a repeated Authorization). */
  readonly rawHeaders: readonly string[];
  /** The connection the request came on (an HTTP/1 socket, or an HTTP/2 session's), as a key only. */
  readonly connection: object;
}

/** A built-in step: a Policy that may also set the identity. */
export type BuiltinPolicy = (request: ChainRequest) => PolicyResult | Promise<PolicyResult>;
