// The dashboard state of several workers merged into the whole gateway's: counts add up,
// percentiles come from the summed buckets, an instance is up/closed only if every
// worker says so (each worker's view kept), a worker that did not answer is counted.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DashboardState, GatewayFacts, RouteState } from '../../src/admin/dashboard-state.ts';
import { mergeInstances, mergeStates, type SupervisorView } from '../../src/admin/merge-state.ts';
import { RouteWindow, type WindowSummary } from '../../src/observability/route-window.ts';
import type { InstanceStatus } from '../../src/upstream/instance.ts';

const NOW = 1_700_000_000_000;

/** A window holding these (status, ms) answers, as a worker would report it. */
function window(answers: readonly [status: number, ms: number][]): WindowSummary {
  const w = new RouteWindow(() => NOW);
  for (const [status, ms] of answers) w.record(status, ms);
  return w.summary();
}

const repeat = (n: number, answer: [number, number]) => Array.from({ length: n }, () => answer);

const facts = (over: Partial<GatewayFacts> = {}): GatewayFacts => ({
  version: '1.0.0',
  node: 'v24.0.0',
  pid: 42,
  started_at: NOW - 60_000,
  uptime_s: 60,
  state: 'ready',
  workers: 2,
  cores: 2,
  memory: { rss: 100, heap_used: 10, heap_total: 20 },
  tracing: null,
  ...over,
});

const route = (over: Partial<RouteState>): RouteState => ({
  route: '/api',
  host: undefined,
  service: 'api',
  methods: undefined,
  policies: [],
  last_minute: null,
  ...over,
});

const instance = (over: Partial<InstanceStatus>): InstanceStatus => ({
  origin: 'http://10.0.0.1:80',
  healthy: true,
  breaker: 'closed',
  inFlight: 0,
  weight: 1,
  ...over,
});

const worker = (over: Partial<DashboardState>): DashboardState => ({
  gateway: facts({ memory: { rss: 100, heap_used: 5, heap_total: 8 } }),
  services: [],
  routes: [],
  unmatched: null,
  rejections: [],
  reloads: [{ at: 1, ok: true, changes: ['from a worker: not shown'] }],
  now: NOW,
  ...over,
});

const supervisor: SupervisorView = {
  gateway: facts({ memory: { rss: 300, heap_used: 1, heap_total: 2 } }),
  reloads: [{ at: NOW - 5000, ok: false, changes: [], errors: ['gateway.yaml:3: bad'] }],
  now: NOW + 7,
};

test('per-route figures add up, and the percentiles come from the summed buckets', () => {
  // Worker 0: 90 fast answers; worker 1: 10 slow ones, 5 of them 5xx.
  const a = window(repeat(90, [200, 1]));
  const b = window([...repeat(5, [200, 800]), ...repeat(5, [503, 800])]);
  const merged = mergeStates(
    [worker({ routes: [route({ last_minute: a })] }), worker({ routes: [route({ last_minute: b })] })],
    supervisor,
  );
  const minute = merged.routes[0].last_minute!;
  // The same as one window that saw all 100 answers.
  const whole = window([...repeat(90, [200, 1]), ...repeat(5, [200, 800]), ...repeat(5, [503, 800])]);
  assert.deepEqual(minute, whole);
  assert.equal(minute.requests, 100);
  assert.equal(minute.errors, 5);
  assert.equal(minute.errorRatio, 0.05);
  assert.equal(minute.rate, 100 / 60);
  // p50 is a fast answer, p99 a slow one: averaging the workers' p50s would give ~400 ms.
  assert.ok(minute.p50Ms! >= 1 && minute.p50Ms! < 1.5, String(minute.p50Ms));
  assert.ok(minute.p99Ms! >= 800 && minute.p99Ms! < 800 * Math.SQRT2, String(minute.p99Ms));
});

test('routes are matched across workers by host, path, service and methods; missing windows count as none', () => {
  const one = window([[200, 3]]);
  const merged = mergeStates(
    [
      worker({
        routes: [
          route({ route: '/beta', service: 'b', last_minute: one }),
          route({ route: '/beta', service: 'a', last_minute: null }),
          route({ route: '/x', host: 'h.example', last_minute: one }),
        ],
        unmatched: one,
      }),
      worker({
        routes: [
          route({ route: '/beta', service: 'b', last_minute: one }),
          route({ route: '/beta', service: 'a', last_minute: one }),
          route({ route: '/x', host: 'h.example', last_minute: null }),
          // Only this worker has it yet (a reload in progress): still shown.
          route({ route: '/new', last_minute: one }),
        ],
        unmatched: null,
      }),
    ],
    supervisor,
  );
  assert.deepEqual(
    merged.routes.map((r) => [r.route, r.service, r.last_minute?.requests ?? null]),
    [
      ['/beta', 'b', 2],
      ['/beta', 'a', 1],
      ['/x', 'api', 1],
      ['/new', 'api', 1],
    ],
  );
  assert.equal(merged.unmatched?.requests, 1);
  assert.equal(mergeStates([worker({}), worker({})], supervisor).unmatched, null);
});

test('rejections add up by policy and code', () => {
  const merged = mergeStates(
    [
      worker({
        rejections: [
          { policy: 'auth', code: 'UNAUTHORIZED', total: 3, lastMinute: 1 },
          { policy: 'rate_limit', code: 'RATE_LIMITED', total: 10, lastMinute: 10 },
        ],
      }),
      worker({
        rejections: [
          { policy: 'rate_limit', code: 'RATE_LIMITED', total: 5, lastMinute: 4 },
          { policy: 'cors', code: 'FORBIDDEN', total: 1, lastMinute: 0 },
        ],
      }),
    ],
    supervisor,
  );
  assert.deepEqual(merged.rejections, [
    { policy: 'auth', code: 'UNAUTHORIZED', total: 3, lastMinute: 1 },
    { policy: 'rate_limit', code: 'RATE_LIMITED', total: 15, lastMinute: 14 },
    { policy: 'cors', code: 'FORBIDDEN', total: 1, lastMinute: 0 },
  ]);
});

test('an instance is up and closed only when every worker says so; each worker view is kept', () => {
  const merged = mergeInstances([
    [
      instance({ origin: 'http://a', inFlight: 2, lastProbe: { at: NOW - 100, passed: true } }),
      instance({ origin: 'http://b', breaker: 'open', breakerReopensInMs: 4000 }),
    ],
    [
      instance({
        origin: 'http://a',
        healthy: false,
        inFlight: 1,
        lastProbe: { at: NOW - 900, passed: false },
      }),
      instance({ origin: 'http://b', breaker: 'half_open' }),
    ],
    [
      instance({ origin: 'http://a', inFlight: 0, lastProbe: { at: NOW - 50, passed: true } }),
      instance({ origin: 'http://b', breaker: 'open', breakerReopensInMs: 9000 }),
    ],
  ]);
  const [a, b] = merged;
  assert.equal(a.healthy, false, 'down on one worker: not shown as up');
  assert.equal(a.inFlight, 3);
  assert.deepEqual(a.lastProbe, { at: NOW - 900, passed: false }, 'a failed probe on any worker is shown');
  assert.deepEqual(
    a.workers?.map((view) => [view.worker, view.healthy]),
    [
      [0, true],
      [1, false],
      [2, true],
    ],
  );
  assert.equal(b.healthy, true);
  assert.equal(b.breaker, 'open', 'the worst breaker any worker has');
  assert.equal(b.breakerReopensInMs, 9000, 'open until the last worker lets trials through');
  assert.deepEqual(
    b.workers?.map((view) => view.breaker),
    ['open', 'half_open', 'open'],
  );

  const agreeing = mergeInstances([
    [instance({ lastProbe: { at: NOW - 300, passed: true } })],
    undefined,
    [instance({ lastProbe: { at: NOW - 100, passed: true } })],
  ]);
  assert.equal(agreeing[0].healthy, true);
  assert.equal(agreeing[0].breaker, 'closed');
  assert.equal(agreeing[0].breakerReopensInMs, undefined);
  assert.deepEqual(agreeing[0].lastProbe, { at: NOW - 100, passed: true }, 'else the newest probe');
  assert.deepEqual(
    agreeing[0].workers?.map((view) => view.worker),
    [0, 2],
    'a worker that did not answer has no view',
  );
});

test('services are merged by name, instances by origin', () => {
  const service = (instances: InstanceStatus[]) => ({
    name: 'users',
    load_balancing: 'round_robin',
    health_checked: true,
    instances,
  });
  const merged = mergeStates(
    [
      worker({ services: [service([instance({ origin: 'http://a', healthy: false })])] }),
      worker({ services: [service([instance({ origin: 'http://a' })])] }),
    ],
    supervisor,
  );
  assert.equal(merged.services.length, 1);
  assert.equal(merged.services[0].load_balancing, 'round_robin');
  assert.equal(merged.services[0].instances.length, 1);
  assert.equal(merged.services[0].instances[0].healthy, false);
});

test('the gateway, reloads and clock are the supervisor’s; heaps add up; missing workers are counted', () => {
  const merged = mergeStates([worker({}), undefined, worker({})], supervisor);
  assert.equal(merged.gateway.workers, 3);
  assert.equal(merged.gateway.workers_missing, 1);
  assert.deepEqual(merged.gateway.memory, { rss: 300, heap_used: 11, heap_total: 18 });
  assert.deepEqual(merged.reloads, supervisor.reloads, 'one entry per reload, not one per worker');
  assert.equal(merged.now, supervisor.now);

  const none = mergeStates([undefined, undefined], supervisor);
  assert.equal(none.gateway.workers_missing, 2);
  assert.equal(none.gateway.state, 'ready');
  assert.deepEqual([none.routes, none.services, none.rejections, none.unmatched], [[], [], [], null]);
});
