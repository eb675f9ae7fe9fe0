// Per-request state handed to the policies. The child logger is made on first use:
// most requests log only their access line, which needs no child.
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { Identity, RequestContext } from '../policies/policy.ts';
import type { CompiledRoute } from '../runtime/build.ts';

export class RequestState implements RequestContext {
  readonly req: IncomingMessage;
  readonly requestId: string;
  readonly traceId: string;
  readonly clientIp: string;
  readonly startedAt: number;
  readonly responseHeaders: Record<string, string> = {};
  /** The scheme the client used (tls/peer.ts); goes upstream as X-Forwarded-Proto. */
  scheme: 'http' | 'https' = 'http';
  clientCertSubject: string | undefined = undefined;
  identity: Identity | undefined = undefined;
  route: CompiledRoute | undefined = undefined;
  readonly #rootLogger: Logger;
  #log: Logger | undefined;

  constructor(req: IncomingMessage, requestId: string, traceId: string, clientIp: string, logger: Logger) {
    this.req = req;
    this.requestId = requestId;
    this.traceId = traceId;
    this.clientIp = clientIp;
    this.startedAt = performance.now();
    this.#rootLogger = logger;
  }

  get secure(): boolean {
    return this.scheme === 'https';
  }

  get routeName(): string {
    return this.route?.name ?? '';
  }

  get log(): Logger {
    this.#log ??= this.#rootLogger.child({ request_id: this.requestId });
    return this.#log;
  }
}
