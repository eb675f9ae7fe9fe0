import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { GatewayError } from '../../src/errors.ts';
import { UpstreamInstance } from '../../src/upstream/instance.ts';
import { ServicePool } from '../../src/upstream/service-pool.ts';
import { fakeClock } from '../helpers/clock.ts';
import { silentLogger } from '../helpers/logs.ts';
import { service } from './fixtures.ts';

const created: UpstreamInstance[] = [];
after(() => Promise.all(created.map((instance) => instance.destroy())));

const breaker = { min_requests: 1, failure_ratio: 1, timeout: '30s', max_requests: 1 };

function setup(origins: string[], extra: Record<string, unknown> = {}) {
  const clock = fakeClock(1_000_000);
  const config = service({ urls: origins, circuit_breaker: breaker, ...extra });
  const instances = origins.map((url) => {
    const instance = new UpstreamInstance({
      service: 'orders',
      url,
      weight: 1,
      config,
      healthChecked: false,
      logger: silentLogger,
      clock: clock.clock,
      random: () => 0,
    });
    created.push(instance);
    return instance;
  });
  const pool = new ServicePool('orders', config, { instances });
  return { clock, instances, pool };
}

function trip(instance: UpstreamInstance): void {
  instance.breaker.record(instance.breaker.tryAcquire()!, false);
  assert.equal(instance.breaker.state, 'open');
}

function unavailable(pool: ServicePool): GatewayError {
  try {
    pool.acquire();
  } catch (error) {
    assert.ok(error instanceof GatewayError);
    assert.equal(error.code, 'UPSTREAM_UNAVAILABLE');
    assert.equal(error.status, 503);
    return error;
  }
  assert.fail('expected UPSTREAM_UNAVAILABLE');
}

const A = 'http://127.0.0.1:4001';
const B = 'http://127.0.0.1:4002';

describe('ServicePool.acquire', () => {
  it('round-robins over the instances and counts requests in flight', () => {
    const { pool, instances } = setup([A, B]);
    const leases = [pool.acquire(), pool.acquire(), pool.acquire()];
    assert.deepEqual(
      leases.map((lease) => lease.instance.origin),
      [A, B, A],
    );
    assert.deepEqual(
      instances.map((i) => i.inFlight),
      [2, 1],
    );
    for (const lease of leases) lease.release('success');
    assert.deepEqual(
      instances.map((i) => i.inFlight),
      [0, 0],
    );
  });

  it('skips an instance whose breaker is open', () => {
    const { pool, instances } = setup([A, B]);
    trip(instances[0]);
    for (let i = 0; i < 5; i++) {
      const lease = pool.acquire();
      assert.equal(lease.instance.origin, B);
      lease.release('success');
    }
  });

  it('skips an unhealthy instance', () => {
    const { pool, instances } = setup([A, B]);
    instances[1].watchHealth(() => {});
    instances[1].markUnreachable();
    for (let i = 0; i < 5; i++) {
      const lease = pool.acquire();
      assert.equal(lease.instance.origin, A);
      lease.release('success');
    }
  });

  it('skips excluded instances (the retry of a failed attempt)', () => {
    const { pool, instances } = setup([A, B]);
    for (let i = 0; i < 4; i++) pool.acquire(new Set([instances[0]])).release('success');
    assert.equal(instances[0].breaker.counts.requests, 0);
    assert.equal(instances[1].breaker.counts.requests, 4);
    assert.throws(() => pool.acquire(new Set(instances)), { code: 'UPSTREAM_UNAVAILABLE' });
  });

  it('throws at once with Retry-After from the soonest breaker reopening', () => {
    const { pool, instances, clock } = setup([A, B]);
    trip(instances[0]);
    clock.advance(20_000);
    trip(instances[1]);
    assert.deepEqual(unavailable(pool).headers, { 'retry-after': '10' });
    clock.advance(9_500);
    assert.deepEqual(unavailable(pool).headers, { 'retry-after': '1' }, 'rounded up, at least 1');
    clock.advance(500);
    assert.equal(pool.acquire().instance.origin, A, 'half-open admits a trial');
  });

  it('omits Retry-After when only health probes could bring an instance back', () => {
    const { pool, instances } = setup([A]);
    instances[0].watchHealth(() => {});
    instances[0].markUnreachable();
    assert.equal(unavailable(pool).headers, undefined);
  });

  it('omits Retry-After for a service without instances', () => {
    const pool = new ServicePool('orders', service({ url: A }), { instances: [] });
    assert.equal(unavailable(pool).headers, undefined);
  });

  it('admits no more than max_requests trials while half-open', () => {
    const { pool, instances, clock } = setup([A]);
    trip(instances[0]);
    clock.advance(30_000);
    const trial = pool.acquire();
    assert.equal(unavailable(pool).headers, undefined, 'no known time: the trial decides');
    trial.release('success');
    assert.equal(instances[0].breaker.state, 'closed');
  });
});

describe('Lease.release', () => {
  it('is idempotent', () => {
    const { pool, instances } = setup([A]);
    const lease = pool.acquire();
    lease.release('failure');
    lease.release('failure');
    lease.release('success');
    assert.equal(instances[0].inFlight, 0);
    assert.equal(instances[0].breaker.state, 'open', 'recorded once, as the first outcome');
    assert.equal(instances[0].breaker.counts.totalSuccesses, 0);
  });

  it('counts unreachable as a failure and takes the instance out of rotation', () => {
    const { pool, instances, clock } = setup([A, B], { circuit_breaker: { min_requests: 10 } });
    const lease = pool.acquire();
    lease.release('unreachable');
    assert.equal(instances[0].breaker.counts.totalFailures, 1);
    assert.equal(instances[0].isAvailable(), false);
    assert.equal(pool.acquire().instance.origin, B);
    clock.advance(500);
    assert.equal(instances[0].isAvailable(), true);
  });

  it('a neutral outcome counts nothing and gives a half-open slot back', () => {
    const { pool, instances, clock } = setup([A]);
    trip(instances[0]);
    clock.advance(30_000);
    pool.acquire().release('neutral');
    assert.equal(instances[0].breaker.state, 'half_open');
    assert.equal(instances[0].inFlight, 0);
    pool.acquire().release('success');
    assert.equal(instances[0].breaker.state, 'closed');
  });

  it('records into the breaker that admitted the request, even after a reload replaced it', () => {
    const { pool, instances } = setup([A]);
    const lease = pool.acquire();
    const admitting = instances[0].breaker;
    instances[0].configure(service({ url: A, circuit_breaker: { ...breaker, timeout: '5s' } }), 1);
    lease.release('failure');
    assert.equal(admitting.state, 'open');
    assert.equal(instances[0].breaker.state, 'closed');
  });
});
