// One request/response exchange with an upstream instance, as an undici dispatch
// handler. undici calls it natively (no request() stream, no pipe, no AbortController),
// and it writes the upstream's answer straight into the client response with
// backpressure both ways: the cheapest correct streaming proxy undici allows.
//
// The service timeout is enforced here, in two phases, so that it blames the right
// party:
// - waiting: from dispatch until undici writes the request (queued in the instance's
//   pool, or still connecting). A frozen instance must not hold a request for the
//   connect timeout.
// - answering: from the moment the whole request, body included, was handed to the
//   instance until its response headers. While the client's body is still arriving
//   no deadline of ours runs: a slow upload is the client's failure, bounded by the
//   server's request_timeout (408), and never counted against the instance.
// undici calls onConnect only when the request reaches a socket, so an abort before
// that cannot reach undici: the exchange detaches (finishes at once, answers the
// client) and aborts the request the moment undici hands it a socket.
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
  constructor(waiting: boolean) {
    super(
      waiting
        ? 'no connection to the instance within the service timeout'
        : 'no response headers within the service timeout',
    );
    this.name = 'HeadersDeadline';
  }
}

export interface ExchangeListener {
  /** Response headers arrived; from now on nothing can be retried. */
  started(statusCode: number, contentLength: number | undefined): void;
  /**
   * The exchange ended: `error` is undefined on success. `afterStart` tells whether the
   * upstream's headers arrived, `committed` whether any byte of the answer went to the client.
   */
  finished(error: Error | undefined, afterStart: boolean, committed: boolean): void;
  /** Final response headers arrived: an error returned here drops the answer and aborts the exchange with it (a retry follows). */
  holdBack?: ((statusCode: number, rawHeaders: Buffer[]) => Error | undefined) | undefined;
  /** Edits the upstream's headers (a route's response_headers) before the gateway's own are added. */
  editHeaders?: ((headers: string[]) => void) | undefined;
}

export interface ExchangeOptions {
  /** Headers the gateway adds to the client response (X-Request-ID, rate-limit headers). */
  readonly extraHeaders: Readonly<Record<string, string>>;
  /** The service timeout, for each of the two phases above. */
  readonly timeoutMs: number;
  /**
   * The service body_timeout, also the longest wait for a client that stopped reading:
   * past it the client is treated as gone, so it cannot hold an upstream connection.
   */
  readonly drainTimeoutMs: number;
  /** True while the gateway drains: the answer then closes its connection. */
  readonly closing: () => boolean;
}

export class Exchange implements Dispatcher.DispatchHandler {
  readonly #res: ServerResponse;
  readonly #options: ExchangeOptions;
  readonly #listener: ExchangeListener;
  #abort: ((error: Error) => void) | undefined;
  #pendingAbort: Error | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #resume: (() => void) | undefined;
  #drainDeadline: NodeJS.Timeout | undefined;
  #onDrain: (() => void) | undefined;
  #statusCode = 0;
  /** The client head, held until the first body byte or the end (Node would hold it too). */
  #head: string[] | undefined;
  #started = false;
  #committed = false;
  #done = false;

  constructor(res: ServerResponse, options: ExchangeOptions, listener: ExchangeListener) {
    this.#res = res;
    this.#options = options;
    this.#listener = listener;
    this.#deadline = setTimeout(() => this.abort(new HeadersDeadline(true)), options.timeoutMs);
  }

  /** Aborts the exchange from the gateway's side (client gone, deadline), wherever it is. */
  abort(error: Error): void {
    if (this.#done) return;
    if (this.#abort) {
      this.#abort(error);
      return;
    }
    // Still queued or connecting: undici can't be told yet. Answer now, and cut the
    // request as soon as undici hands it a socket (onConnect), before a byte is written.
    this.#pendingAbort = error;
    this.#finish(error);
  }

  onConnect(abort: (error?: Error) => void): void {
    if (this.#pendingAbort) {
      abort(this.#pendingAbort);
      return;
    }
    this.#abort = abort;
    // The request is being written: the client's upload time is not the instance's.
    clearTimeout(this.#deadline);
  }

  onRequestSent(): void {
    if (this.#done) return;
    clearTimeout(this.#deadline);
    this.#deadline = setTimeout(() => this.abort(new HeadersDeadline(false)), this.#options.timeoutMs);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (this.#done) return false;
    // 1xx (103 Early Hints…): wait for the final answer.
    if (statusCode < 200) return true;
    clearTimeout(this.#deadline);
    const held = this.#listener.holdBack?.(statusCode, rawHeaders);
    if (held) {
      this.abort(held);
      return false;
    }
    this.#started = true;
    this.#statusCode = statusCode;
    this.#resume = resume;
    const { headers, contentLength } = clientResponseHeaders(rawHeaders, statusCode);
    this.#listener.editHeaders?.(headers);
    for (const name in this.#options.extraHeaders) headers.push(name, this.#options.extraHeaders[name]);
    this.#head = headers;
    this.#listener.started(statusCode, contentLength);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#done) return true;
    this.#commit();
    if (this.#res.write(chunk)) return true;
    // The client reads slower than the upstream sends: undici pauses until it drains,
    // for at most drainTimeoutMs.
    // Made on first use: most answers never wait for a client.
    this.#onDrain ??= () => {
      clearTimeout(this.#drainDeadline);
      this.#resume!();
    };
    this.#res.once('drain', this.#onDrain);
    this.#drainDeadline = setTimeout(() => this.#clientStalled(), this.#options.drainTimeoutMs);
    return false;
  }

  /** The client stopped reading: its answer is cut and the upstream connection released. */
  #clientStalled(): void {
    this.#res.destroy();
    this.abort(new ClientGone());
  }

  onComplete(): void {
    if (this.#done) return;
    this.#commit();
    this.#finish(undefined);
    this.#res.end();
  }

  onError(error: Error): void {
    if (this.#done) return;
    // A 204 or 304 has no body whatever its Content-Length says; undici still counts
    // the missing bytes as a mismatch. The answer is complete: deliver it.
    if (isBodilessLengthMismatch(error, this.#statusCode)) {
      this.onComplete();
      return;
    }
    // A body cut after its first byte must not look complete: the connection is cut too.
    if (this.#committed && !this.#res.writableEnded) this.#res.destroy();
    this.#finish(error);
  }

  #commit(): void {
    if (this.#committed) return;
    this.#committed = true;
    const head = this.#head!;
    // Set on the answers already in flight when draining starts, not only on new ones:
    // a keep-alive client must not send its next request into a closing socket.
    if (this.#options.closing()) head.push('connection', 'close');
    this.#res.writeHead(this.#statusCode, head);
  }

  #finish(error: Error | undefined): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#deadline);
    if (this.#onDrain !== undefined) {
      clearTimeout(this.#drainDeadline);
      this.#res.off('drain', this.#onDrain);
    }
    this.#listener.finished(error, this.#started, this.#committed);
  }
}

function isBodilessLengthMismatch(error: Error, statusCode: number): boolean {
  return (
    (statusCode === 204 || statusCode === 304) &&
    (error as { code?: string }).code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH'
  );
}
