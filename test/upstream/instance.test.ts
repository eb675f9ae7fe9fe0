import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { UpstreamInstance } from '../../src/upstream/instance.ts';
import { fakeClock } from '../helpers/clock.ts';
import { captureLogger, silentLogger } from '../helpers/logs.ts';
import { service } from './fixtures.ts';

const created: UpstreamInstance[] = [];
after(() => Promise.all(created.map((instance) => instance.destroy())));

function make(
  options: { healthChecked?: boolean; random?: () => number; config?: Record<string, unknown> } = {},
) {
  const clock = fakeClock(1_000_000);
  const { logger, lines } = captureLogger();
  const instance = new UpstreamInstance({
    service: 'users',
    url: 'http://127.0.0.1:3001/',
    weight: 2,
    config: service({ url: 'http://127.0.0.1:3001', ...options.config }),
    healthChecked: options.healthChecked ?? false,
    logger,
    clock: clock.clock,
    random: options.random ?? (() => 0),
  });
  created.push(instance);
  return { instance, clock, lines };
}

describe('UpstreamInstance', () => {
  it('is identified by service and origin', () => {
    const { instance } = make();
    assert.equal(instance.key, 'users|http://127.0.0.1:3001');
    assert.equal(instance.origin, 'http://127.0.0.1:3001');
    assert.equal(instance.basePath, '');
    assert.equal(instance.weight, 2);
    assert.ok(instance.isAvailable());
    assert.deepEqual(instance.status(), {
      origin: 'http://127.0.0.1:3001',
      healthy: true,
      breaker: 'closed',
      inFlight: 0,
      weight: 2,
    });
  });

  it('keeps the path of a base URL for the forwarder', () => {
    const clock = fakeClock(1_000_000);
    const instance = new UpstreamInstance({
      service: 's',
      url: 'http://127.0.0.1:3001/api/v1/',
      weight: 1,
      config: service({ url: 'http://127.0.0.1:3001/api/v1/' }),
      healthChecked: false,
      logger: silentLogger,
      clock: clock.clock,
      random: Math.random,
    });
    created.push(instance);
    assert.equal(instance.basePath, '/api/v1');
  });
});

describe('UpstreamInstance: passive backoff without health checks', () => {
  it('leaves rotation at once and comes back when the backoff expires', () => {
    const { instance, clock, lines } = make();
    instance.markUnreachable();
    assert.equal(instance.isAvailable(), false);
    assert.equal(instance.healthy, true, 'active health is not involved');
    assert.equal(instance.status().healthy, false, 'but it is not up');
    assert.equal(instance.backoffRemainingMs(), 500, 'first step: 1s with jitter taking up to half');
    clock.advance(499);
    assert.equal(instance.isAvailable(), false);
    clock.advance(1);
    assert.equal(instance.isAvailable(), true);
    const messages = lines.map((line) => line.msg);
    assert.deepEqual(messages, [
      'upstream instance unreachable, out of rotation',
      'upstream instance back in rotation after backoff',
    ]);
    assert.equal(lines[0].service, 'users');
    assert.equal(lines[0].instance, 'http://127.0.0.1:3001');
  });

  it('grows the backoff with consecutive outages, caps it and resets it on an answer', () => {
    const { instance, clock } = make({ random: () => 0.999999 });
    const delays: number[] = [];
    for (let i = 0; i < 8; i++) {
      instance.markUnreachable();
      delays.push(instance.backoffRemainingMs());
      clock.advance(instance.backoffRemainingMs());
    }
    assert.deepEqual(delays, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    instance.markReachable();
    instance.markUnreachable();
    assert.equal(instance.backoffRemainingMs(), 1_000);
  });

  it('counts failures of concurrent requests as one outage', () => {
    const { instance } = make();
    for (let i = 0; i < 20; i++) instance.markUnreachable();
    assert.equal(instance.backoffRemainingMs(), 500);
  });
});

describe('UpstreamInstance: active health', () => {
  it('starts pending (out of rotation) when health-checked, until a probe passes', () => {
    const { instance, lines } = make({ healthChecked: true });
    assert.equal(instance.health, 'pending');
    assert.equal(instance.isAvailable(), false);
    instance.recordProbe(true, 3);
    assert.equal(instance.isAvailable(), true);
    assert.deepEqual(
      lines.map((line) => [line.msg, line.from]),
      [['upstream instance healthy', 'pending']],
    );
  });

  it('turns unhealthy after `retries` consecutive failures and healthy after one pass', () => {
    const { instance, lines } = make({ healthChecked: true });
    instance.recordProbe(true, 3);
    instance.recordProbe(false, 3);
    instance.recordProbe(false, 3);
    instance.recordProbe(true, 3);
    instance.recordProbe(false, 3);
    instance.recordProbe(false, 3);
    assert.equal(instance.healthy, true, 'the pass in between reset the count');
    instance.recordProbe(false, 3);
    assert.equal(instance.healthy, false);
    assert.equal(instance.probeFailures, 3);
    instance.recordProbe(true, 3);
    assert.equal(instance.healthy, true);
    assert.deepEqual(
      lines.map((line) => line.msg),
      ['upstream instance healthy', 'upstream instance unhealthy', 'upstream instance healthy'],
    );
  });

  it('markUnreachable makes a checked instance unhealthy at once and asks for a probe', () => {
    const { instance } = make({ healthChecked: true });
    let probes = 0;
    instance.watchHealth(() => probes++);
    instance.recordProbe(true, 3);
    instance.markUnreachable();
    instance.markUnreachable();
    assert.equal(instance.healthy, false);
    assert.equal(probes, 1, 'one probe for one outage');
    assert.equal(instance.backoffRemainingMs(), 0, 'no passive timer: the probe decides');
    instance.recordProbe(true, 3);
    assert.equal(instance.isAvailable(), true);
  });

  it('is healthy again when health checks are removed', () => {
    const { instance } = make({ healthChecked: true });
    instance.watchHealth(() => {});
    instance.watchHealth(undefined);
    assert.equal(instance.isAvailable(), true);
  });

  it('is out of rotation while its breaker is open', () => {
    const { instance, clock } = make({
      config: { circuit_breaker: { min_requests: 1, failure_ratio: 1, timeout: '5s' } },
    });
    instance.breaker.record(instance.breaker.tryAcquire()!, false);
    assert.equal(instance.isAvailable(), false);
    assert.equal(instance.status().breaker, 'open');
    clock.advance(5_000);
    assert.equal(instance.isAvailable(), true);
  });
});

describe('UpstreamInstance.configure', () => {
  it('keeps pool and breaker when their settings are unchanged', () => {
    const { instance } = make();
    const { pool, breaker } = instance;
    instance.configure(service({ url: 'http://127.0.0.1:3001', timeout: '1s' }), 5);
    assert.equal(instance.pool, pool);
    assert.equal(instance.breaker, breaker);
    assert.equal(instance.weight, 5);
  });

  it('rebuilds only what changed', () => {
    const { instance } = make();
    const { pool, breaker } = instance;
    instance.configure(service({ url: 'http://127.0.0.1:3001', circuit_breaker: { timeout: '1s' } }), 2);
    assert.equal(instance.pool, pool);
    assert.notEqual(instance.breaker, breaker);
    const newBreaker = instance.breaker;
    instance.configure(
      service({ url: 'http://127.0.0.1:3001', circuit_breaker: { timeout: '1s' }, max_connections: 8 }),
      2,
    );
    assert.notEqual(instance.pool, pool);
    assert.equal(instance.breaker, newBreaker);
    assert.equal(pool.closed, true, 'the replaced pool is closed (gracefully)');
  });
});
