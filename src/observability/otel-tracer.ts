// The OpenTelemetry side of tracing, imported only when the config has a `tracing`
// section. Spans are built with an explicit parent context (no global provider, no
// context manager), so several gateways can share a process and nothing else in the
// process is traced by accident.
//
// Export never holds a request: finished spans go to a BatchSpanProcessor whose queue
// is bounded (`max_queue_size`); past it the SDK drops spans, and its self-observability
// counter, bridged here to prom-client, makes the drops visible.
import {
  type Attributes,
  type Counter,
  createNoopMeter,
  type Meter,
  type MeterProvider,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
} from '@opentelemetry/semantic-conventions';
import type { TracingConfig } from '../config/schema.ts';
import { parseTraceparent } from './correlation.ts';
import type {
  AttemptSpan,
  ChildSpan,
  RequestResult,
  RequestSpan,
  RequestTracer,
  SpanOutcomeCounter,
} from './tracing.ts';

/** Still "incubating" in the semantic conventions package, which advises copying it. */
const ATTR_USER_ID = 'user.id';
/** The SDK's own counter of processed spans; error.type "queue_full" marks a drop. */
const PROCESSED_SPANS = 'otel.sdk.processor.span.processed';
/** How long a shutdown waits for the last export. */
const SHUTDOWN_FLUSH_MS = 2000;

export function createOtelTracer(config: TracingConfig, countSpans: SpanOutcomeCounter): RequestTracer {
  const selfObservation = spanCountingMeterProvider(countSpans);
  const processor = new BatchSpanProcessor({
    exporter: new OTLPTraceExporter({
      url: `${config.otlp_endpoint.replace(/\/+$/, '')}/v1/traces`,
      timeoutMillis: 10_000,
    }),
    maxQueueSize: config.max_queue_size,
    maxExportBatchSize: Math.min(512, config.max_queue_size),
    scheduledDelayMillis: 1000,
    selfObsMeterProvider: selfObservation,
  });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.service_name }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sample_ratio) }),
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer('gatehouse');
  return {
    startRequest: (traceparent, method) => new OtelRequestSpan(tracer, traceparent, method),
    // A collector that is down must not hold the drain: queued spans get a short chance.
    shutdown: async () => {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_FLUSH_MS);
      });
      await Promise.race([provider.shutdown(), deadline]);
      clearTimeout(timer);
    },
  };
}

class OtelRequestSpan implements RequestSpan {
  readonly traceId: string;
  readonly traceparent: string;
  readonly #tracer: Tracer;
  readonly #span: Span;
  readonly #method: string;

  constructor(tracer: Tracer, header: string | string[] | undefined, method: string) {
    const parent = parseTraceparent(header);
    const parentContext = parent
      ? trace.setSpanContext(ROOT_CONTEXT, {
          traceId: parent.traceId,
          spanId: parent.spanId,
          traceFlags: parent.flags,
          isRemote: true,
        })
      : ROOT_CONTEXT;
    this.#tracer = tracer;
    this.#method = method;
    this.#span = tracer.startSpan(
      method,
      { kind: SpanKind.SERVER, attributes: { [ATTR_HTTP_REQUEST_METHOD]: method } },
      parentContext,
    );
    const context = this.#span.spanContext();
    this.traceId = context.traceId;
    this.traceparent = formatTraceparent(context.traceId, context.spanId, context.traceFlags);
  }

  child(name: string): ChildSpan | undefined {
    if (!this.#span.isRecording()) return undefined;
    const span = this.#tracer.startSpan(
      name,
      { kind: SpanKind.INTERNAL },
      trace.setSpan(ROOT_CONTEXT, this.#span),
    );
    return {
      end(error) {
        if (error !== undefined) markError(span, error);
        span.end();
      },
    };
  }

  attempt(method: string, origin: string, attempt: number): AttemptSpan | undefined {
    if (!this.#span.isRecording()) return undefined;
    const url = new URL(origin);
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: method,
      [ATTR_SERVER_ADDRESS]: url.hostname,
      [ATTR_SERVER_PORT]: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    };
    if (attempt > 1) attributes[ATTR_HTTP_REQUEST_RESEND_COUNT] = attempt - 1;
    const span = this.#tracer.startSpan(
      method,
      { kind: SpanKind.CLIENT, attributes },
      trace.setSpan(ROOT_CONTEXT, this.#span),
    );
    const context = span.spanContext();
    const traceparent = formatTraceparent(context.traceId, context.spanId, context.traceFlags);
    return {
      headers(upstreamHeaders) {
        const copy = upstreamHeaders.slice();
        for (let i = 0; i < copy.length; i += 2) {
          if (copy[i] === 'traceparent') copy[i + 1] = traceparent;
        }
        return copy;
      },
      end(status, error) {
        if (status > 0) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
        if (error !== undefined) markError(span, error);
        else if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      },
    };
  }

  end(result: RequestResult): void {
    const span = this.#span;
    if (span.isRecording()) {
      if (result.route !== undefined) {
        span.updateName(`${this.#method} ${result.route}`);
        span.setAttribute(ATTR_HTTP_ROUTE, result.route);
      }
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, result.status);
      span.setAttribute(ATTR_CLIENT_ADDRESS, result.clientIp);
      if (result.userId !== undefined) span.setAttribute(ATTR_USER_ID, result.userId);
      if (result.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }
}

function formatTraceparent(traceId: string, spanId: string, flags: number): string {
  return `00-${traceId}-${spanId}-${flags & 1 ? '01' : '00'}`;
}

function markError(span: Span, error: unknown): void {
  const type =
    typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
      ? error.code
      : error instanceof Error
        ? error.name
        : 'error';
  span.setAttribute(ATTR_ERROR_TYPE, type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : type });
}

/**
 * A MeterProvider that implements only the SDK's processed-spans counter, turning its
 * data points into exported / failed / dropped counts. Every other instrument is a no-op.
 */
function spanCountingMeterProvider(countSpans: SpanOutcomeCounter): MeterProvider {
  const noop = createNoopMeter();
  const counter = {
    add(value: number, attributes?: Attributes) {
      const errorType = attributes?.[ATTR_ERROR_TYPE];
      countSpans(
        errorType === undefined ? 'exported' : errorType === 'queue_full' ? 'dropped' : 'failed',
        value,
      );
    },
  } as Counter;
  const meter: Meter = Object.create(noop, {
    createCounter: {
      value: (name: string, options?: Parameters<Meter['createCounter']>[1]) =>
        name === PROCESSED_SPANS ? counter : noop.createCounter(name, options),
    },
  });
  return { getMeter: () => meter };
}
