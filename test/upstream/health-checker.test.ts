import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { HealthChecker } from '../../src/upstream/health-checker.ts';
import { UpstreamInstance } from '../../src/upstream/instance.ts';
import { captureLogger } from '../helpers/logs.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';
import { eventually, service } from './fixtures.ts';

const cleanup: (() => unknown)[] = [];
after(() => Promise.all(cleanup.map((step) => step())));

interface Check {
  url: string;
  interval?: string;
  timeout?: string;
  retries?: number;
  max_backoff?: string;
}

/** A health-checked instance of `url` and its started checker. */
function watch(check: Check, random: () => number = () => 0.5) {
  const { logger, lines } = captureLogger();
  const healthCheck = {
    path: '/health',
    interval: check.interval ?? '50ms',
    timeout: check.timeout ?? '2s',
    retries: check.retries ?? 3,
    max_backoff: check.max_backoff ?? '200ms',
  };
  const config = service({ url: check.url, health_check: healthCheck });
  const instance = new UpstreamInstance({
    service: 'svc',
    url: check.url,
    weight: 1,
    config,
    healthChecked: true,
    logger,
    clock: Date.now,
    random,
  });
  const checker = new HealthChecker({ service: 'svc', config: config.health_check!, logger, random });
  checker.add(instance);
  cleanup.push(
    () => checker.stop(),
    () => instance.destroy(),
  );
  return { instance, checker, lines };
}

/** An upstream whose /health answers `state.status`. */
async function healthServer(): Promise<{ upstream: TestUpstream; state: { status: number } }> {
  const state = { status: 200 };
  const upstream = await startUpstream((_req, res) => {
    res.writeHead(state.status).end('ok');
  });
  cleanup.push(() => upstream.close());
  return { upstream, state };
}

const probes = (upstream: TestUpstream, path = '/health') => upstream.hits(path);

describe('HealthChecker against real upstreams', () => {
  it('probes at once, marks unhealthy after `retries` failures and healthy after one pass', async () => {
    const { upstream, state } = await healthServer();
    const { instance, checker, lines } = watch({ url: upstream.url });
    assert.equal(instance.isAvailable(), false, 'pending until the first probe');
    await checker.settled();
    assert.equal(instance.health, 'healthy');
    assert.equal(probes(upstream), 1);

    // Watch each verdict as it lands, so the test does not depend on when it polls.
    const verdicts: string[] = [];
    const record = instance.recordProbe.bind(instance);
    instance.recordProbe = (passed, retries) => {
      record(passed, retries);
      verdicts.push(`${passed ? 'pass' : 'fail'} -> ${instance.health}`);
    };
    state.status = 500;
    await eventually(() => !instance.healthy, 'unhealthy');
    assert.deepEqual(verdicts, ['fail -> healthy', 'fail -> healthy', 'fail -> unhealthy']);
    assert.ok(
      lines.some((line) => line.msg === 'upstream instance unhealthy' && line.reason === '3 probes failed'),
    );

    state.status = 204;
    await eventually(() => instance.healthy, 'healthy again');
    assert.equal(verdicts[3], 'pass -> healthy', 'one pass is enough');
    assert.equal(instance.probeFailures, 0);
    assert.equal(instance.isAvailable(), true);
  });

  it('counts 3xx as passing and 4xx as failing', async () => {
    const { upstream, state } = await healthServer();
    state.status = 302;
    const redirecting = watch({ url: upstream.url });
    await redirecting.checker.settled();
    assert.equal(redirecting.instance.healthy, true);
    state.status = 404;
    const missing = watch({ url: upstream.url });
    await missing.checker.settled();
    assert.equal(missing.instance.healthy, false);
  });

  it('detects a killed server and sees it come back', async () => {
    const { upstream } = await healthServer();
    const { instance, checker } = watch({ url: upstream.url, retries: 2 });
    await checker.settled();
    assert.equal(instance.healthy, true);
    await upstream.close();
    await eventually(() => !instance.healthy, 'unhealthy after the server died');
    const revived = await startUpstream((_req, res) => res.end('ok'), '127.0.0.1', upstream.port);
    cleanup.push(() => revived.close());
    await eventually(() => instance.healthy, 'healthy once it listens again');
  });

  it('fails a probe that outlives its timeout', async () => {
    const hanging = await startUpstream(() => {});
    cleanup.push(() => hanging.close());
    const { instance, checker } = watch({ url: hanging.url, timeout: '100ms' });
    await checker.settled();
    assert.equal(instance.health, 'unhealthy');
  });

  it('backs off while an instance keeps failing', async () => {
    const { upstream, state } = await healthServer();
    state.status = 503;
    // interval 50ms: without backoff ~16 probes in 800ms; with 50, 100, 200, 400 (cap) at most ~6.
    watch({ url: upstream.url, interval: '50ms', max_backoff: '400ms' }, () => 0.999);
    await new Promise((resolve) => setTimeout(resolve, 800));
    const count = probes(upstream);
    assert.ok(count >= 3 && count <= 7, `${count} probes`);
  });

  it('probes at once when the data plane reports a failed connection', async () => {
    const { upstream } = await healthServer();
    const { instance, checker } = watch({ url: upstream.url, interval: '1m' });
    await checker.settled();
    instance.markUnreachable();
    assert.equal(instance.isAvailable(), false);
    await eventually(() => probes(upstream) === 2, 'an immediate second probe');
    await eventually(() => instance.healthy, 'back after the passing probe');
  });

  it('probes the path under the base URL of an instance', async () => {
    const { upstream } = await healthServer();
    const { checker } = watch({ url: `${upstream.url}/api/` });
    await checker.settled();
    assert.equal(probes(upstream, '/api/health'), 1);
  });

  it('stops probing on stop() and remove()', async () => {
    const { upstream } = await healthServer();
    const first = watch({ url: upstream.url, interval: '20ms' });
    await first.checker.settled();
    first.checker.stop();
    const stoppedAt = probes(upstream);
    const second = watch({ url: upstream.url, interval: '20ms' });
    await second.checker.settled();
    second.checker.remove(second.instance);
    const removedAt = probes(upstream);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(probes(upstream), removedAt);
    assert.equal(removedAt, stoppedAt + 1);
  });
});
