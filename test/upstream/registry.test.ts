import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, describe, it } from 'node:test';
import { UpstreamRegistry } from '../../src/upstream/registry.ts';
import { captureLogger, silentLogger } from '../helpers/logs.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';
import { eventually, service } from './fixtures.ts';

const cleanup: (() => unknown)[] = [];
after(() => Promise.all(cleanup.map((step) => step())));

function registry(): UpstreamRegistry {
  const created = new UpstreamRegistry({ logger: silentLogger });
  cleanup.push(() => created.destroy());
  return created;
}

async function upstream(answer = 'ok'): Promise<TestUpstream> {
  const started = await startUpstream((_req, res) => res.end(answer));
  cleanup.push(() => started.close());
  return started;
}

describe('UpstreamRegistry.sync', () => {
  it('keeps the same instances, pools and breakers across identical syncs', async () => {
    const [a, b] = [await upstream(), await upstream()];
    const upstreams = registry();
    const config = {
      orders: service({ urls: [a.url, b.url], circuit_breaker: { min_requests: 1, failure_ratio: 1 } }),
    };
    const first = upstreams.sync(config).get('orders')!;
    const [one, two] = first.instances;
    const { pool, breaker } = one;
    first.acquire().release('failure');
    assert.equal(one.breaker.state, 'open');

    const second = upstreams
      .sync({
        orders: service({ urls: [a.url, b.url], circuit_breaker: { min_requests: 1, failure_ratio: 1 } }),
      })
      .get('orders')!;
    assert.notEqual(second, first, 'a new pool object per snapshot');
    assert.equal(second.instances[0], one);
    assert.equal(second.instances[1], two);
    assert.equal(one.pool, pool);
    assert.equal(one.breaker, breaker);
    assert.equal(one.breaker.state, 'open', 'breaker state survives the reload');
    assert.equal(second.acquire().instance, two);
  });

  it('rebuilds only what changed and applies new weights', async () => {
    const [a, b, c] = [await upstream(), await upstream(), await upstream()];
    const upstreams = registry();
    const [one, two] = upstreams.sync({ s: service({ urls: [a.url, b.url] }) }).get('s')!.instances;
    const { pool, breaker } = one;
    const next = upstreams.sync({
      s: service({
        instances: [{ url: a.url, weight: 3 }, { url: c.url }],
        circuit_breaker: { timeout: '1s' },
      }),
    });
    const [kept, added] = next.get('s')!.instances;
    assert.equal(kept, one);
    assert.equal(kept.pool, pool);
    assert.notEqual(kept.breaker, breaker);
    assert.equal(kept.weight, 3);
    assert.equal(added.origin, c.url);
    await eventually(() => two.pool.closed, 'the dropped instance is closed');
    assert.deepEqual(
      upstreams.status().s.map((status) => [status.origin, status.weight]),
      [
        [a.url, 3],
        [c.url, 1],
      ],
    );
  });

  it("closes a removed instance's pool only after its in-flight request ends", async () => {
    const waiting: ServerResponse[] = [];
    const slow = await startUpstream((_req, res) => void waiting.push(res));
    cleanup.push(() => slow.close());
    const fast = await upstream('fast');
    const upstreams = registry();
    const old = upstreams.sync({ s: service({ urls: [slow.url, fast.url] }) }).get('s')!;

    const lease = old.acquire();
    assert.equal(lease.instance.origin, slow.url);
    const pool = lease.instance.pool;
    const pending = pool.request({ method: 'GET', path: '/slow' });
    await eventually(() => waiting.length === 1, 'the request reached the upstream');

    upstreams.sync({ s: service({ url: fast.url }) });
    assert.equal(old.acquire().instance.origin, fast.url, 'the old snapshot no longer picks it');
    assert.deepEqual(
      upstreams.status().s.map((status) => status.origin),
      [fast.url],
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(pool.closed, false, 'still serving its request');

    waiting[0].end('late answer');
    const response = await pending;
    assert.equal(await response.body.text(), 'late answer');
    lease.release('success');
    assert.equal(pool.closed, true);
    await eventually(() => pool.destroyed, 'pool shut down');
  });

  it('retires every instance of a removed service', async () => {
    const a = await upstream();
    const upstreams = registry();
    const old = upstreams.sync({ gone: service({ url: a.url }), kept: service({ url: a.url }) });
    const instance = old.get('gone')!.instances[0];
    upstreams.sync({ kept: service({ url: a.url }) });
    assert.throws(() => old.get('gone')!.acquire(), { code: 'UPSTREAM_UNAVAILABLE' });
    assert.deepEqual(Object.keys(upstreams.status()), ['kept']);
    await eventually(() => instance.pool.closed, 'closed');
    assert.notEqual(old.get('kept')!.instances[0], instance, 'same origin, other service: another instance');
  });

  it('reuses keep-alive connections of an instance', async () => {
    let connections = 0;
    const a = await upstream('hello');
    a.server.on('connection', () => connections++);
    const pool = registry()
      .sync({ s: service({ url: a.url }) })
      .get('s')!;
    for (let i = 0; i < 3; i++) {
      const lease = pool.acquire();
      const response = await lease.instance.pool.request({ method: 'GET', path: '/' });
      assert.equal(await response.body.text(), 'hello');
      lease.release('success');
      // Let the pool see its connection idle again (it is told on a later tick).
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(connections, 1);
  });
});

describe('UpstreamRegistry with health checks', () => {
  const check = { path: '/health', interval: '50ms', timeout: '2s', retries: 2, max_backoff: '200ms' };

  it('keeps new instances out of rotation until their first probe passes', async () => {
    const good = await upstream();
    const bad = await startUpstream((_req, res) => res.writeHead(500).end());
    cleanup.push(() => bad.close());
    const { logger, lines } = captureLogger();
    const upstreams = new UpstreamRegistry({ logger });
    cleanup.push(() => upstreams.destroy());
    const pool = upstreams.sync({ s: service({ urls: [good.url, bad.url], health_check: check }) }).get('s')!;
    assert.throws(() => pool.acquire(), { code: 'UPSTREAM_UNAVAILABLE' });
    await upstreams.ready();
    assert.deepEqual(
      upstreams.status().s.map((status) => [status.origin, status.healthy]),
      [
        [good.url, true],
        [bad.url, false],
      ],
    );
    for (let i = 0; i < 4; i++) pool.acquire().release('success');
    assert.equal(bad.hits('/'), 0);
    const healthy = lines.find((line) => line.msg === 'upstream instance healthy');
    assert.equal(healthy?.service, 's');
    assert.equal(healthy?.instance, good.url);
  });

  it('keeps health state across a reload and drops it when checks are removed', async () => {
    const bad = await startUpstream((_req, res) => res.writeHead(500).end());
    cleanup.push(() => bad.close());
    const upstreams = registry();
    upstreams.sync({ s: service({ url: bad.url, health_check: check }) });
    await upstreams.ready();
    const [instance] = upstreams
      .sync({ s: service({ url: bad.url, health_check: { ...check, interval: '60ms' } }) })
      .get('s')!.instances;
    assert.equal(instance.healthy, false, 'a changed interval does not forget the verdict');
    const pool = upstreams.sync({ s: service({ url: bad.url }) }).get('s')!;
    assert.equal(pool.acquire().instance, instance, 'without checks an instance is healthy');
  });

  it('close() stops probing and closes pools', async () => {
    const a = await upstream();
    const upstreams = new UpstreamRegistry({ logger: silentLogger });
    const [instance] = upstreams
      .sync({ s: service({ url: a.url, health_check: { ...check, interval: '20ms' } }) })
      .get('s')!.instances;
    await upstreams.ready();
    await upstreams.close();
    const probes = a.hits('/health');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(a.hits('/health'), probes);
    assert.equal(instance.pool.destroyed, true);
    assert.throws(() => upstreams.sync({}), /closed/);
  });
});
