// The last minute of a route, for the dashboard: a ring of 60 one-second buckets, each
// holding a request count, an error count (5xx) and a latency histogram with buckets
// √2 apart (so p50/p99 are within about 20%). Recording is a few integer writes into
// preallocated arrays; the reader merges the buckets of the last 60 seconds.

const SECONDS = 60;
/** Upper bound of latency bucket i is FIRST_BOUND_MS * √2^i. */
const FIRST_BOUND_MS = 0.25;
const LATENCY_BUCKETS = 48;
/** Per second: [count, errors, ...latency buckets]. */
const STRIDE = 2 + LATENCY_BUCKETS;

export interface WindowSummary {
  readonly requests: number;
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
    const now = Math.floor(this.#clock() / 1000);
    const histogram = new Float64Array(LATENCY_BUCKETS);
    let requests = 0;
    let errors = 0;
    for (let slot = 0; slot < SECONDS; slot++) {
      if (now - this.#seconds[slot] >= SECONDS || this.#seconds[slot] < 0) continue;
      const base = slot * STRIDE;
      requests += this.#cells[base];
      errors += this.#cells[base + 1];
      for (let i = 0; i < LATENCY_BUCKETS; i++) histogram[i] += this.#cells[base + 2 + i];
    }
    return {
      requests,
      rate: requests / SECONDS,
      errorRatio: requests === 0 ? 0 : errors / requests,
      p50Ms: percentile(histogram, requests, 0.5),
      p99Ms: percentile(histogram, requests, 0.99),
    };
  }
}

function latencyBucket(ms: number): number {
  if (!(ms > FIRST_BOUND_MS)) return 0;
  const index = Math.ceil(2 * Math.log2(ms / FIRST_BOUND_MS));
  return index >= LATENCY_BUCKETS ? LATENCY_BUCKETS - 1 : index;
}

function percentile(histogram: Float64Array, total: number, q: number): number | undefined {
  if (total === 0) return undefined;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i];
    if (seen >= rank) return Math.round(FIRST_BOUND_MS * Math.SQRT2 ** i * 100) / 100;
  }
  return undefined;
}
