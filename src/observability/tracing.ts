// The request path's view of tracing: a few small interfaces, no OpenTelemetry import.
// The data plane holds a `RequestTracer | null`; with no `tracing` section it is null,
// every hook is one null check, and the SDK is never loaded (see loadTracer).
import type { TracingConfig } from '../config/schema.ts';

export interface RequestTracer {
  /**
   * The server span of one request. It continues a valid incoming `traceparent`
   * (parent-based sampling: a sampled parent is always kept) or starts a trace.
   */
  startRequest(traceparent: string | string[] | undefined, method: string): RequestSpan;
  /** Exports what is queued (bounded by the exporter's timeout) and stops. */
  shutdown(): Promise<void>;
}

export interface RequestSpan {
  readonly traceId: string;
  /** Sent upstream when no attempt span stands between: this span as the parent. */
  readonly traceparent: string;
  /** A child span for one policy (auth, rate limit); undefined when the trace is not recorded. */
  child(name: string): ChildSpan | undefined;
  /** A client span for one upstream attempt; undefined when the trace is not recorded. */
  attempt(method: string, origin: string, attempt: number): AttemptSpan | undefined;
  end(result: RequestResult): void;
}

export interface RequestResult {
  readonly route: string | undefined;
  readonly status: number;
  readonly clientIp: string;
  readonly userId: string | undefined;
}

export interface ChildSpan {
  end(error?: unknown): void;
}

export interface AttemptSpan {
  /** A copy of the upstream headers whose traceparent names this attempt as the parent. */
  headers(upstreamHeaders: readonly string[]): string[];
  end(status: number, error?: unknown): void;
}

/** Counts span export outcomes: exported, failed, dropped (queue full). */
export type SpanOutcomeCounter = (outcome: 'exported' | 'failed' | 'dropped', count: number) => void;

/** Loads the OpenTelemetry SDK only when the config asks for tracing. */
export async function loadTracer(
  config: TracingConfig | undefined,
  countSpans: SpanOutcomeCounter,
): Promise<RequestTracer | null> {
  if (config === undefined) return null;
  const { createOtelTracer } = await import('./otel-tracer.ts');
  return createOtelTracer(config, countSpans);
}
