// The access log: one JSON line per request, in the same format and with the same fields
// as every other log line (pino's: level, time, pid, the fields, msg). It is the one log
// line a busy gateway writes thousands of times a second, so instead of a generic
// logger it has a serializer written for its fixed fields and a timestamp formatted once
// per millisecond; the destination (log-writer.ts) batches the writes. Its fields never
// hold credentials, so nothing is redacted.
import type { DestinationStream } from 'pino';
import type { ForwardOutcome } from '../proxy/forward.ts';
import type { RequestState } from '../server/request-state.ts';

// A string needs JSON's escaping only with these: quote, backslash, control characters
// and lone surrogates (which JSON.stringify writes as \udxxx, keeping the line valid UTF-8).
const NEEDS_ESCAPING = /["\\\u0000-\u001f\ud800-\udfff]/;

function jsonString(value: string): string {
  return NEEDS_ESCAPING.test(value) ? JSON.stringify(value) : `"${value}"`;
}

function jsonNumber(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

/**
 * Milliseconds to two decimals, as JSON.stringify(Math.round(ms * 100) / 100) writes them
 * ("3.1", "12.05", "7"), from integers: a float-to-string conversion per field per request
 * showed in the profile.
 */
export function jsonMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'null';
  const hundredths = Math.round(ms * 100);
  if (hundredths < 0 || hundredths > Number.MAX_SAFE_INTEGER) return jsonNumber(hundredths / 100);
  const whole = Math.floor(hundredths / 100);
  const fraction = hundredths % 100;
  if (fraction === 0) return `${whole}`;
  if (fraction % 10 === 0) return `${whole}.${fraction / 10}`;
  return fraction < 10 ? `${whole}.0${fraction}` : `${whole}.${fraction}`;
}

export interface AccessLogOptions {
  /** The log level: below `info` (warn, error) the access log is off, as for any info line. */
  readonly level: string;
  readonly destination: DestinationStream;
}

export class AccessLog {
  readonly enabled: boolean;
  readonly #destination: DestinationStream;
  /** What follows the time: the pid is fixed for the process, as in pino's `base`. */
  readonly #afterTime: string;
  #lastMs = -1;
  #lastTime = '';

  constructor(options: AccessLogOptions) {
    this.enabled = options.level === 'debug' || options.level === 'info';
    this.#destination = options.destination;
    this.#afterTime = `","pid":${process.pid},"request_id":`;
  }

  /** Logs one finished request (a WebSocket handshake adds `"websocket":true`). */
  record(state: RequestState, status: number, outcome: ForwardOutcome, websocket = false): void {
    if (!this.enabled) return;
    this.#destination.write(this.line(state, status, outcome, websocket));
  }

  /** The line for one request, newline included; fields in the order pino wrote them. */
  line(state: RequestState, status: number, outcome: ForwardOutcome, websocket = false): string {
    const req = state.req;
    const route = state.matchedRoute;
    let line = `{"level":"info","time":"${this.#time()}${this.#afterTime}${jsonString(state.requestId)},"trace_id":${jsonString(state.traceId)}`;
    if (req.method !== undefined) line += `,"method":${jsonString(req.method)}`;
    if (req.url !== undefined) line += `,"path":${jsonString(req.url)}`;
    if (route !== undefined)
      line += `,"route":${jsonString(route.name)},"service":${jsonString(outcome.service ?? route.serviceName)}`;
    if (outcome.instance !== undefined) line += `,"instance":${jsonString(outcome.instance)}`;
    if (outcome.attempts) line += `,"attempts":${outcome.attempts}`;
    line += `,"status":${status},"duration_ms":${jsonMs(performance.now() - state.startedAt)}`;
    if (outcome.upstreamMs !== undefined) line += `,"upstream_ms":${jsonMs(outcome.upstreamMs)}`;
    const requestBytes = req.headers['content-length'];
    if (requestBytes !== undefined) line += `,"request_bytes":${jsonNumber(Number(requestBytes))}`;
    if (outcome.responseBytes !== undefined) line += `,"response_bytes":${jsonNumber(outcome.responseBytes)}`;
    line += `,"client_ip":${jsonString(state.clientIp)}`;
    if (state.identity !== undefined) line += `,"user_id":${jsonString(state.identity.userId)}`;
    // HTTP/1.1 is the default; an h2 request says so (the other fields are the same).
    if (req.httpVersionMajor === 2) line += ',"http_version":"2.0"';
    if (state.clientCertSubject !== undefined)
      line += `,"client_cert_subject":${jsonString(state.clientCertSubject)}`;
    if (state.reason !== undefined) line += `,"reason":${jsonString(state.reason)}`;
    if (state.matchedRoute?.grpc === true) {
      // The path is the gRPC method (/package.Service/Method); the status may be absent on a cut stream.
      line += `,"grpc_method":${jsonString(state.path)}`;
      if (state.grpcStatus !== undefined) line += `,"grpc_status":${state.grpcStatus}`;
    }
    if (websocket) line += ',"websocket":true';
    return `${line},"msg":"request"}\n`;
  }

  /** ISO-8601 time, formatted again only when the millisecond changes. */
  #time(): string {
    const now = Date.now();
    if (now !== this.#lastMs) {
      this.#lastMs = now;
      this.#lastTime = new Date(now).toISOString();
    }
    return this.#lastTime;
  }
}
