// The last minute of a route, for the dashboard: a ring of 60 one-second buckets, each
// holding a request count, an error count (5xx) and a latency histogram with buckets
// √2 apart (so p50/p99 are upper bounds within about 40%). Recording is a few integer
// writes into preallocated arrays; the reader sums the buckets of the last 60 seconds
// into counts, and the figures are computed from counts (summarize), so the counts of
// several windows (one per worker thread) can be summed first and summarized once.

const SECONDS = 60;
/** Upper bound of latency bucket i is FIRST_BOUND_MS * √2^i. */
const FIRST_BOUND_MS = 0.25;
const LATENCY_BUCKETS = 48;
/** Per second: [count, errors, ...latency buckets]. */
const STRIDE = 2 + LATENCY_BUCKETS;

/** What a window holds over its minute: sums, so windows of several workers add up. */
export interface WindowCounts {
  readonly requests: number;
  /** Answers with a 5xx status. */
  readonly errors: number;
  /**
   * Requests per latency bucket: bucket i holds latencies up to 0.25 ms · √2^i (the last
   * one, everything above). Empty buckets at the end are left out.
   */
  readonly latency: readonly number[];
}

/** The counts and the figures computed from them. */
export interface WindowSummary extends WindowCounts {
  /** Requests per second over the window. */
  readonly rate: number;
  /** Share of 5xx answers, 0..1 (0 without requests). */
  readonly errorRatio: number;
  /** Upper bounds of the latency buckets holding the 50th and 99th percentile, in ms. */
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
}

export class RouteWindow {
  readonly #cells = new Uint32Array(SECONDS * STRIDE);
  /** The second each slot holds; a slot from an older second is stale and reset on write. */
  readonly #seconds = new Float64Array(SECONDS).fill(-1);
  readonly #clock: () => number;

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  record(status: number, ms: number): void {
    const second = Math.floor(this.#clock() / 1000);
    const slot = second % SECONDS;
    const base = slot * STRIDE;
    if (this.#seconds[slot] !== second) {
      this.#cells.fill(0, base, base + STRIDE);
      this.#seconds[slot] = second;
    }
    this.#cells[base]++;
    if (status >= 500) this.#cells[base + 1]++;
    this.#cells[base + 2 + latencyBucket(ms)]++;
  }

  /** The last 60 seconds, the current one included. */
  summary(): WindowSummary {
    return summarize(this.counts());
  }

  /** The last 60 seconds' sums, the current one included. */
  counts(): WindowCounts {
    const now = Math.floor(this.#clock() / 1000);
    const latency = new Array<number>(LATENCY_BUCKETS).fill(0);
    let requests = 0;
    let errors = 0;
    for (let slot = 0; slot < SECONDS; slot++) {
      if (now - this.#seconds[slot] >= SECONDS || this.#seconds[slot] < 0) continue;
      const base = slot * STRIDE;
      requests += this.#cells[base];
      errors += this.#cells[base + 1];
      for (let i = 0; i < LATENCY_BUCKETS; i++) latency[i] += this.#cells[base + 2 + i];
    }
    let used = LATENCY_BUCKETS;
    while (used > 0 && latency[used - 1] === 0) used--;
    latency.length = used;
    return { requests, errors, latency };
  }
}

/** Sums of several windows' counts (e.g. one per worker thread). */
export function addCounts(windows: readonly WindowCounts[]): WindowCounts {
  const latency: number[] = [];
  let requests = 0;
  let errors = 0;
  for (const window of windows) {
    requests += window.requests;
    errors += window.errors;
    for (let i = 0; i < window.latency.length; i++) latency[i] = (latency[i] ?? 0) + window.latency[i];
  }
  return { requests, errors, latency };
}

/** Rate, error ratio and percentiles of a minute's counts. */
export function summarize(counts: WindowCounts): WindowSummary {
  const { requests, errors, latency } = counts;
  return {
    requests,
    errors,
    latency,
    rate: requests / SECONDS,
    errorRatio: requests === 0 ? 0 : errors / requests,
    p50Ms: percentile(latency, requests, 0.5),
    p99Ms: percentile(latency, requests, 0.99),
  };
}

function latencyBucket(ms: number): number {
  if (!(ms > FIRST_BOUND_MS)) return 0;
  const index = Math.ceil(2 * Math.log2(ms / FIRST_BOUND_MS));
  return index >= LATENCY_BUCKETS ? LATENCY_BUCKETS - 1 : index;
}

function percentile(histogram: readonly number[], total: number, q: number): number | undefined {
  if (total === 0) return undefined;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i];
    if (seen >= rank) return Math.round(FIRST_BOUND_MS * Math.SQRT2 ** i * 100) / 100;
  }
  return undefined;
}
