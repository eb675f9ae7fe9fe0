// One request/response exchange with an upstream instance, as an undici dispatch
// handler. undici calls it natively (no request() stream, no pipe, no AbortController),
// and it writes the upstream's answer straight into the client response with
// backpressure both ways: the cheapest correct streaming proxy undici allows.
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { clientResponseHeaders } from './headers.ts';

/** Why the gateway itself aborted the exchange. */
export class ClientGone extends Error {
  constructor() {
    super('the client closed the connection');
    this.name = 'ClientGone';
  }
}

export class HeadersDeadline extends Error {
  readonly code = 'UND_ERR_HEADERS_TIMEOUT';
  constructor() {
    super('no response headers within the service timeout');
    this.name = 'HeadersDeadline';
  }
}

export interface ExchangeListener {
  /** Response headers arrived; from now on nothing can be retried. */
  started(statusCode: number, contentLength: number | undefined): void;
  /** The exchange ended: `error` is undefined on success. `afterStart` tells whether headers went out. */
  finished(error: Error | undefined, afterStart: boolean): void;
  /** Final response headers arrived: an error returned here drops the answer and aborts the exchange with it (a retry follows). */
  holdBack?: ((statusCode: number, rawHeaders: Buffer[]) => Error | undefined) | undefined;
  /** Edits the upstream's headers (a route's response_headers) before the gateway's own are added. */
  editHeaders?: ((headers: string[]) => void) | undefined;
}

export class Exchange implements Dispatcher.DispatchHandler {
  readonly #res: ServerResponse;
  readonly #extraHeaders: Readonly<Record<string, string>>;
  readonly #listener: ExchangeListener;
  #abort: ((error: Error) => void) | undefined;
  #pendingAbort: Error | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #resume: (() => void) | undefined;
  #started = false;
  #done = false;

  constructor(
    res: ServerResponse,
    extraHeaders: Readonly<Record<string, string>>,
    headersTimeoutMs: number,
    listener: ExchangeListener,
  ) {
    this.#res = res;
    this.#extraHeaders = extraHeaders;
    this.#listener = listener;
    // undici arms its own headersTimeout on coarse (~1 s) timers: the configured
    // deadline is enforced here, undici's stays as a backstop.
    this.#deadline = setTimeout(() => this.abort(new HeadersDeadline()), headersTimeoutMs);
  }

  /** Aborts the exchange from the gateway's side (client gone, deadline). */
  abort(error: Error): void {
    if (this.#done) return;
    if (this.#abort) this.#abort(error);
    else this.#pendingAbort = error;
  }

  onConnect(abort: (error?: Error) => void): void {
    this.#abort = abort;
    if (this.#pendingAbort) abort(this.#pendingAbort);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx: wait for the final answer
    clearTimeout(this.#deadline);
    const held = this.#listener.holdBack?.(statusCode, rawHeaders);
    if (held) {
      this.abort(held);
      return false;
    }
    this.#started = true;
    this.#resume = resume;
    const { headers, contentLength } = clientResponseHeaders(rawHeaders);
    this.#listener.editHeaders?.(headers);
    for (const name in this.#extraHeaders) headers.push(name, this.#extraHeaders[name]);
    this.#listener.started(statusCode, contentLength);
    this.#res.writeHead(statusCode, headers);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#res.write(chunk)) return true;
    // The client reads slower than the upstream sends: undici pauses until it drains.
    this.#res.once('drain', this.#resume!);
    return false;
  }

  onComplete(): void {
    this.#finish(undefined);
    this.#res.end();
  }

  onError(error: Error): void {
    // A body cut after its headers must not look complete: the connection is cut too.
    if (this.#started && !this.#res.writableEnded) this.#res.destroy();
    this.#finish(error);
  }

  #finish(error: Error | undefined): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#deadline);
    if (this.#resume) this.#res.off('drain', this.#resume);
    this.#listener.finished(error, this.#started);
  }
}
