import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AggregatorRegistry, Registry } from 'prom-client';
import { RequestCounts } from '../../src/observability/request-counts.ts';

const BOUNDS = [
  '0.001',
  '0.0025',
  '0.005',
  '0.01',
  '0.025',
  '0.05',
  '0.1',
  '0.25',
  '0.5',
  '1',
  '2.5',
  '5',
  '10',
];

/** The histogram lines of one route, given its cumulative count at each bound. */
function durationLines(route: string, cumulative: number[], count: number, sum: number): string[] {
  return [
    ...BOUNDS.map(
      (le, i) => `gatehouse_request_duration_seconds_bucket{le="${le}",route="${route}"} ${cumulative[i]}`,
    ),
    `gatehouse_request_duration_seconds_bucket{le="+Inf",route="${route}"} ${count}`,
    `gatehouse_request_duration_seconds_sum{route="${route}"} ${sum}`,
    `gatehouse_request_duration_seconds_count{route="${route}"} ${count}`,
  ];
}

test('request counts read in /metrics as a counter and a cumulative histogram', async () => {
  const registry = new Registry();
  const counts = new RequestCounts(registry);
  const a = counts.route('/a');
  a.observe('GET', 200, 0.003);
  counts.route('').observe('POST', 404, 0.001);
  a.observe('GET', 200, 0.02);
  // Slower than the last bound: only in +Inf and _count. An unknown method counts as OTHER.
  a.observe('BREW', 200, 20);

  assert.equal(
    await registry.metrics(),
    [
      '# HELP gatehouse_requests_total Requests answered, by route, method and status.',
      '# TYPE gatehouse_requests_total counter',
      'gatehouse_requests_total{route="/a",method="GET",status="200"} 2',
      'gatehouse_requests_total{route="",method="POST",status="404"} 1',
      'gatehouse_requests_total{route="/a",method="OTHER",status="200"} 1',
      '',
      '# HELP gatehouse_request_duration_seconds Time from request to the end of the response, by route.',
      '# TYPE gatehouse_request_duration_seconds histogram',
      ...durationLines('/a', [0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2], 3, 0.003 + 0.02 + 20),
      // A duration equal to a bound falls in that bound's bucket.
      ...durationLines('', [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 1, 0.001),
      '',
    ].join('\n'),
  );
});

test("the JSON of two gateways' request counts sums to one /metrics", async () => {
  const registries = [new Registry(), new Registry()];
  const [first, second] = registries.map((registry) => new RequestCounts(registry));
  first.route('/a').observe('GET', 200, 0.004);
  second.route('/a').observe('GET', 200, 0.2);
  second.route('/a').observe('DELETE', 503, 3);

  const summed = await AggregatorRegistry.aggregate(
    await Promise.all(registries.map((registry) => registry.getMetricsAsJSON())),
  ).metrics();
  const lines = summed.split('\n');
  assert.ok(lines.includes('gatehouse_requests_total{route="/a",method="GET",status="200"} 2'), summed);
  assert.ok(lines.includes('gatehouse_requests_total{route="/a",method="DELETE",status="503"} 1'), summed);
  for (const line of durationLines('/a', [0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3], 3, 0.004 + 0.2 + 3)) {
    assert.ok(lines.includes(line), `${line} in:\n${summed}`);
  }
});
