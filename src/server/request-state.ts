// Per-request state, and the narrow view the policies see of it (ChainRequest). The
// child logger is made on first use: most requests log only their access line, which
// needs no child.
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { Identity } from '../auth/identity.ts';
import type { RequestSpan } from '../observability/tracing.ts';
import { checkResponseHeader, checkUpstreamHeader } from '../policies/header-guard.ts';
import type { ChainRequest } from '../policies/policy.ts';
import type { CompiledRoute } from '../runtime/build.ts';

export class RequestState implements ChainRequest {
  readonly req: IncomingMessage;
  readonly requestId: string;
  readonly traceId: string;
  readonly clientIp: string;
  readonly startedAt: number;
  /** Headers added to whatever the gateway answers, proxied or its own error. */
  readonly responseHeaders: Record<string, string> = {};
  /** The scheme the client used (tls/peer.ts); goes upstream as X-Forwarded-Proto. */
  scheme: 'http' | 'https' = 'http';
  clientCertSubject: string | undefined = undefined;
  /** Headers the policies set for the upstream request, [lower-case name, value, …]; undefined when none. */
  upstreamHeaders: string[] | undefined = undefined;
  identity: Identity | undefined = undefined;
  matchedRoute: CompiledRoute | undefined = undefined;
  /** The normalized path, once the target was normalized (routeRequest). */
  path = '';
  /** The query with its `?`, as the client sent it. */
  rawQuery = '';
  readonly #identityNames: ReadonlySet<string>;
  /** The request's server span; undefined when tracing is off. */
  readonly span: RequestSpan | undefined;
  /** On a gRPC call: the grpc-status the client got (the upstream's, or the gateway's own). */
  grpcStatus: number | undefined = undefined;
  /** Why the gateway refused the request, as a short code for the access log (never a credential). */
  reason: string | undefined = undefined;
  readonly #rootLogger: Logger;
  #log: Logger | undefined;

  constructor(
    req: IncomingMessage,
    requestId: string,
    traceId: string,
    clientIp: string,
    logger: Logger,
    identityNames: ReadonlySet<string>,
    span?: RequestSpan,
  ) {
    this.req = req;
    this.requestId = requestId;
    this.traceId = traceId;
    this.clientIp = clientIp;
    this.startedAt = performance.now();
    this.#rootLogger = logger;
    this.span = span;
    this.#identityNames = identityNames;
  }

  get method(): string {
    return this.req.method ?? '';
  }

  get query(): string {
    return this.rawQuery === '' ? '' : this.rawQuery.slice(1);
  }

  get headers(): Readonly<IncomingHttpHeaders> {
    return this.req.headers;
  }

  get rawHeaders(): readonly string[] {
    return this.req.rawHeaders;
  }

  get connection(): object {
    return this.req.socket;
  }

  get route(): string {
    return this.matchedRoute?.name ?? '';
  }

  get secure(): boolean {
    return this.scheme === 'https';
  }

  get routeName(): string {
    return this.matchedRoute?.name ?? '';
  }

  get log(): Logger {
    this.#log ??= this.#rootLogger.child({ request_id: this.requestId });
    return this.#log;
  }

  setUpstreamHeader(name: string, value: string): void {
    const lower = checkUpstreamHeader(name, value, this.#identityNames);
    if (this.upstreamHeaders === undefined) this.upstreamHeaders = [];
    const list = this.upstreamHeaders;
    for (let i = 0; i < list.length; i += 2) {
      if (list[i] === lower) {
        list[i + 1] = value;
        return;
      }
    }
    list.push(lower, value);
  }

  setResponseHeader(name: string, value: string): void {
    this.responseHeaders[checkResponseHeader(name, value)] = value;
  }
}
