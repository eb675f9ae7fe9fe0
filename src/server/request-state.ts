// Per-request state handed to the policies. The child logger is made on first use:
// most requests log only their access line, which needs no child.
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { RequestSpan } from '../observability/tracing.ts';
import type { Identity, RequestContext } from '../policies/policy.ts';
import type { CompiledRoute } from '../runtime/build.ts';

export class RequestState implements RequestContext {
  readonly req: IncomingMessage;
  readonly requestId: string;
  readonly traceId: string;
  readonly clientIp: string;
  readonly startedAt: number;
  readonly responseHeaders: Record<string, string> = {};
  identity: Identity | undefined = undefined;
  route: CompiledRoute | undefined = undefined;
  /** The request's server span; undefined when tracing is off. */
  readonly span: RequestSpan | undefined;
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
    span?: RequestSpan,
  ) {
    this.req = req;
    this.requestId = requestId;
    this.traceId = traceId;
    this.clientIp = clientIp;
    this.startedAt = performance.now();
    this.#rootLogger = logger;
    this.span = span;
  }

  get routeName(): string {
    return this.route?.name ?? '';
  }

  get log(): Logger {
    this.#log ??= this.#rootLogger.child({ request_id: this.requestId });
    return this.#log;
  }
}
