// The warning a request that failed with a 5xx leaves in the log, throttled. During an
// upstream outage every request fails the same way, so lines are keyed by failure
// kind (error code and its cause, e.g. BAD_GATEWAY/ECONNREFUSED) and instance: one
// line per key per interval, then the count held back (throttled-log.ts). An upstream
// failure carries its cause as a word, never a stack trace: the stack of a refused
// connection is undici's, the same every time. Other 5xx answers (bugs) keep their
// stack on the first line of their interval.
import type { Logger } from 'pino';
import type { Schedule } from '../clock.ts';
import { ThrottledLog } from './throttled-log.ts';

export const FAILURE_LOG_INTERVAL_MS = 10_000;

const UPSTREAM_CODES = new Set(['BAD_GATEWAY', 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT']);

export interface FailedRequest {
  readonly requestId: string;
  readonly routeName: string;
}

export interface FailedExchange {
  readonly instance: string | undefined;
  readonly service?: string;
}

export class RequestFailureLog {
  readonly #lines: ThrottledLog;

  constructor(logger: Logger, options: { intervalMs?: number; schedule?: Schedule } = {}) {
    this.#lines = new ThrottledLog((fields, message) => logger.warn(fields, message), {
      intervalMs: options.intervalMs ?? FAILURE_LOG_INTERVAL_MS,
      schedule: options.schedule,
    });
  }

  report(request: FailedRequest, exchange: FailedExchange, error: unknown, code: string): void {
    if (UPSTREAM_CODES.has(code)) {
      const cause = causeOf(error);
      const target = exchange.instance ?? exchange.service ?? request.routeName;
      this.#lines.log(
        `${code}|${cause}|${target}`,
        {
          request_id: request.requestId,
          route: request.routeName,
          service: exchange.service,
          instance: exchange.instance,
          code,
          cause,
        },
        'upstream request failed',
      );
      return;
    }
    this.#lines.log(
      `${code}|${request.routeName}`,
      { request_id: request.requestId, route: request.routeName, code, err: error },
      'request failed',
    );
  }

  /** The upstream's answer broke off after its head reached the client (the connection was cut). */
  reportBrokenAnswer(request: FailedRequest, exchange: FailedExchange, error: Error): void {
    const cause = causeOf(error);
    this.#lines.log(
      `broke_off|${cause}|${exchange.instance ?? exchange.service ?? request.routeName}`,
      {
        request_id: request.requestId,
        route: request.routeName,
        service: exchange.service,
        instance: exchange.instance,
        cause,
        err_message: error.message,
      },
      'upstream answer broke off after it started; the client connection was cut',
    );
  }

  /** Writes the counts still held back (shutdown). */
  flush(): void {
    this.#lines.flush();
  }
}

/** The innermost error code (ECONNREFUSED, UND_ERR_SOCKET...), else the error's name. */
function causeOf(error: unknown): string {
  let current = error as { code?: unknown; cause?: unknown; name?: unknown } | undefined;
  let found: string | undefined;
  for (let depth = 0; current && depth < 5; depth++) {
    if (typeof current.code === 'string') found = current.code;
    current = current.cause as typeof current;
  }
  if (found !== undefined) return found;
  const name = (error as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' ? name : 'unknown';
}
