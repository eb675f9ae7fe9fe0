// The two metrics every request updates, gatehouse_requests_total and
// gatehouse_request_duration_seconds, kept in Gatehouse's own storage rather than in
// prom-client's Counter and Histogram: prom-client's histogram child re-validates and
// re-hashes its labels and allocates on every observe, and with the counter child that
// cost 2-3% of the gateway's busy time at 15k req/s. Here a request, after the first of
// its route, method and status, is a lookup by number and a few writes into numbers kept
// for it. The registry reads these two metrics through objects that answer get() (and
// getForPromString() for the text) in the shapes prom-client's own Counter and Histogram
// answer, so /metrics reads the same and the supervisor sums the workers' JSON as before.
import type { Metric, Registry } from 'prom-client';

const KNOWN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const OTHER_METHOD = KNOWN_METHODS.length;
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const REQUESTS = 'gatehouse_requests_total';
const DURATION = 'gatehouse_request_duration_seconds';

type Labels = Record<string, string | number>;

/** Requests of one route, method and status; also the value the registry reads. */
interface RequestCount {
  value: number;
  readonly labels: { readonly route: string; readonly method: string; readonly status: string };
}

/** A value as prom-client's histogram hands it to the registry's text: the route apart, in sharedLabels. */
interface DurationValue {
  readonly value: number;
  readonly metricName: string;
  readonly labels: Labels;
  readonly sharedLabels: Labels;
}

/** One route's counts: the caller keeps it, so a request looks its route up once. */
export class RouteRequestCounts {
  readonly #labels: { readonly route: string };
  /** Keyed by status * 8 + method index: a number, so a lookup neither builds nor hashes a string. */
  readonly #byStatusAndMethod = new Map<number, RequestCount>();
  /** Every route's counts in the order of their first request, the order prom-client lists them in. */
  readonly #allCounts: RequestCount[];
  /** Requests per bucket, not cumulative: the ones slower than the last bound are only in #count. */
  readonly #bucketCounts = new Float64Array(DURATION_BUCKETS.length);
  #sum = 0;
  #count = 0;

  constructor(route: string, allCounts: RequestCount[]) {
    this.#labels = { route };
    this.#allCounts = allCounts;
  }

  observe(method: string, status: number, seconds: number): void {
    const methodIndex = methodIndexOf(method);
    const key = status * 8 + methodIndex;
    let count = this.#byStatusAndMethod.get(key);
    if (count === undefined) {
      const methodLabel = methodIndex === OTHER_METHOD ? 'OTHER' : KNOWN_METHODS[methodIndex];
      count = {
        value: 0,
        labels: { route: this.#labels.route, method: methodLabel, status: String(status) },
      };
      this.#byStatusAndMethod.set(key, count);
      this.#allCounts.push(count);
    }
    count.value++;
    for (let i = 0; i < DURATION_BUCKETS.length; i++) {
      if (seconds <= DURATION_BUCKETS[i]) {
        this.#bucketCounts[i]++;
        break;
      }
    }
    this.#sum += seconds;
    this.#count++;
  }

  /** The route's histogram lines: cumulative buckets, +Inf, _sum and _count. */
  addDurationValues(values: DurationValue[]): void {
    let cumulative = 0;
    for (let i = 0; i < DURATION_BUCKETS.length; i++) {
      cumulative += this.#bucketCounts[i];
      values.push(durationValue(`${DURATION}_bucket`, { le: DURATION_BUCKETS[i] }, this.#labels, cumulative));
    }
    values.push(durationValue(`${DURATION}_bucket`, { le: '+Inf' }, this.#labels, this.#count));
    values.push(durationValue(`${DURATION}_sum`, {}, this.#labels, this.#sum));
    values.push(durationValue(`${DURATION}_count`, {}, this.#labels, this.#count));
  }
}

/** The storage of both metrics, registered with the registry on construction. */
export class RequestCounts {
  readonly #routes = new Map<string, RouteRequestCounts>();
  readonly #allCounts: RequestCount[] = [];

  constructor(registry: Registry) {
    const requests = {
      name: REQUESTS,
      help: 'Requests answered, by route, method and status.',
      type: 'counter',
      aggregator: 'sum',
      get: async () => ({
        help: requests.help,
        name: REQUESTS,
        type: 'counter',
        values: this.#allCounts.map(({ value, labels }) => ({ value, labels })),
        aggregator: 'sum',
      }),
    };
    const durationForText = async () => {
      const values: DurationValue[] = [];
      for (const route of this.#routes.values()) route.addDurationValues(values);
      return { name: DURATION, help: duration.help, type: 'histogram', values, aggregator: 'sum' };
    };
    const duration = {
      name: DURATION,
      help: 'Time from request to the end of the response, by route.',
      type: 'histogram',
      aggregator: 'sum',
      getForPromString: durationForText,
      // The JSON carries the route among the labels, as prom-client's histogram get() does.
      get: async () => {
        const metric = await durationForText();
        return {
          ...metric,
          values: metric.values.map(({ value, metricName, labels, sharedLabels }) => ({
            value,
            metricName,
            labels: { ...labels, ...sharedLabels },
          })),
        };
      },
    };
    // The registry reads only these fields and methods; prom-client's types admit only its own classes.
    registry.registerMetric(requests as unknown as Metric);
    registry.registerMetric(duration as unknown as Metric);
  }

  /** The counts of one route, created on its first request. */
  route(route: string): RouteRequestCounts {
    let counts = this.#routes.get(route);
    if (counts === undefined) {
      counts = new RouteRequestCounts(route, this.#allCounts);
      this.#routes.set(route, counts);
    }
    return counts;
  }
}

function durationValue(
  metricName: string,
  labels: Labels,
  sharedLabels: Labels,
  value: number,
): DurationValue {
  return { value, metricName, labels, sharedLabels };
}

function methodIndexOf(method: string): number {
  // GET first: nearly every request is one.
  if (method === 'GET') return 0;
  const index = KNOWN_METHODS.indexOf(method);
  return index === -1 ? OTHER_METHOD : index;
}
