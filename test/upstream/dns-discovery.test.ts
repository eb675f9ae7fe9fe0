import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { DnsDiscovery } from '../../src/upstream/dns-discovery.ts';
import { UpstreamRegistry } from '../../src/upstream/registry.ts';
import type { ServicePool } from '../../src/upstream/service-pool.ts';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { captureLogger, silentLogger } from '../helpers/logs.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';
import { eventually, service } from './fixtures.ts';

const cleanup: (() => unknown)[] = [];
after(() => Promise.all(cleanup.map((step) => step())));

let dns: TestDnsServer;
before(async () => {
  dns = await startDnsServer();
  cleanup.push(() => dns.close());
});

/**
 * Two upstreams on one port, bound to 127.0.0.1 and 127.0.0.2 (both loopback on
 * Linux), since discovery gives every address the same port. Each answers its address.
 */
async function twoHosts(
  health: { status: number } = { status: 200 },
): Promise<{ port: number; hosts: TestUpstream[] }> {
  for (let attempt = 0; ; attempt++) {
    const first = await startUpstream((req, res) => answer(req.url, res, '127.0.0.1', health));
    try {
      const second = await startUpstream(
        (req, res) => answer(req.url, res, '127.0.0.2', health),
        '127.0.0.2',
        first.port,
      );
      cleanup.push(
        () => first.close(),
        () => second.close(),
      );
      return { port: first.port, hosts: [first, second] };
    } catch (error) {
      await first.close();
      if (attempt === 5) throw error;
    }
  }
}

function answer(
  url: string | undefined,
  res: ServerResponse,
  host: string,
  health: { status: number },
): void {
  if (url === '/health' && host === '127.0.0.2') res.writeHead(health.status);
  res.end(host);
}

async function get(pool: ServicePool): Promise<string> {
  const lease = pool.acquire();
  const response = await lease.instance.pool.request({ method: 'GET', path: '/' });
  const body = await response.body.text();
  lease.release('success');
  return body;
}

describe('DnsDiscovery', () => {
  it('publishes A and AAAA records as sorted instance URLs', async () => {
    dns.records.set('mixed.test', { A: ['10.0.0.2', '10.0.0.1'], AAAA: ['fd00::7'] });
    const published: (readonly string[])[] = [];
    const discovery = new DnsDiscovery({
      service: 'svc',
      config: { dns: 'mixed.test', port: 8443, protocol: 'https', interval: 60_000 },
      logger: silentLogger,
      servers: [dns.address],
      onChange: (urls) => published.push(urls),
    });
    cleanup.push(() => discovery.stop());
    discovery.start();
    await discovery.ready();
    assert.deepEqual(published, [
      ['https://10.0.0.1:8443', 'https://10.0.0.2:8443', 'https://[fd00::7]:8443'],
    ]);
    await discovery.refresh();
    assert.equal(published.length, 1, 'an unchanged set is not published again');
  });

  it('keeps the last known set when resolution fails (SERVFAIL, NXDOMAIN)', async () => {
    dns.records.set('flaky.test', { A: ['10.0.0.1'] });
    const published: (readonly string[])[] = [];
    const { logger, lines } = captureLogger();
    const discovery = new DnsDiscovery({
      service: 'svc',
      config: { dns: 'flaky.test', port: 80, protocol: 'http', interval: 60_000 },
      logger,
      servers: [dns.address],
      onChange: (urls) => published.push(urls),
    });
    cleanup.push(() => discovery.stop());
    await discovery.refresh();
    dns.failing = true;
    try {
      await discovery.refresh();
    } finally {
      dns.failing = false;
    }
    dns.records.delete('flaky.test');
    await discovery.refresh();
    assert.deepEqual(published, [['http://10.0.0.1:80']]);
    assert.ok(lines.some((line) => line.msg === 'DNS discovery failed, keeping the last known instances'));
    dns.records.set('flaky.test', {});
    await discovery.refresh();
    assert.deepEqual(published.at(-1), [], 'a name without records is an empty set');
  });
});

describe('UpstreamRegistry with DNS discovery', () => {
  it('follows the records: adds and removes instances', async () => {
    const { port } = await twoHosts();
    dns.records.set('orders.test', { A: ['127.0.0.1'] });
    const upstreams = new UpstreamRegistry({ logger: silentLogger, dnsServers: [dns.address] });
    cleanup.push(() => upstreams.destroy());
    const pool = upstreams
      .sync({ orders: service({ discovery: { dns: 'orders.test', port, interval: '50ms' } }) })
      .get('orders')!;
    await upstreams.ready();
    assert.deepEqual(
      pool.instances.map((i) => i.origin),
      [`http://127.0.0.1:${port}`],
    );
    assert.equal(await get(pool), '127.0.0.1');

    dns.records.set('orders.test', { A: ['127.0.0.1', '127.0.0.2'] });
    await eventually(() => pool.instances.length === 2, 'the new address is picked up');
    const answers = new Set([await get(pool), await get(pool)]);
    assert.deepEqual([...answers].sort(), ['127.0.0.1', '127.0.0.2']);

    const [gone] = pool.instances;
    dns.records.set('orders.test', { A: ['127.0.0.2'] });
    await eventually(() => pool.instances.length === 1, 'the vanished address is dropped');
    assert.equal(await get(pool), '127.0.0.2');
    await eventually(() => gone.pool.closed, 'its pool is closed');
  });

  it('health-checks a discovered instance before sending it traffic', async () => {
    const health = { status: 500 };
    const { port, hosts } = await twoHosts(health);
    dns.records.set('checked.test', { A: ['127.0.0.1'] });
    const upstreams = new UpstreamRegistry({ logger: silentLogger, dnsServers: [dns.address] });
    cleanup.push(() => upstreams.destroy());
    const pool = upstreams
      .sync({
        checked: service({
          discovery: { dns: 'checked.test', port, interval: '50ms' },
          health_check: { interval: '50ms', timeout: '2s', max_backoff: '100ms' },
        }),
      })
      .get('checked')!;
    await upstreams.ready();
    dns.records.set('checked.test', { A: ['127.0.0.1', '127.0.0.2'] });
    await eventually(() => pool.instances.length === 2, 'discovered');
    await eventually(() => hosts[1].hits('/health') >= 1, 'probed');
    for (let i = 0; i < 4; i++) assert.equal(await get(pool), '127.0.0.1');
    health.status = 200;
    await eventually(() => pool.instances[1].isAvailable(), 'in rotation after a passing probe');
    const answers = new Set([await get(pool), await get(pool)]);
    assert.equal(answers.size, 2);
  });

  it('keeps serving the current instances while a changed name is first resolved', async () => {
    const { port } = await twoHosts();
    dns.records.set('a.test', { A: ['127.0.0.1'] });
    dns.records.set('b.test', { A: ['127.0.0.2'] });
    const upstreams = new UpstreamRegistry({ logger: silentLogger, dnsServers: [dns.address] });
    cleanup.push(() => upstreams.destroy());
    upstreams.sync({ s: service({ discovery: { dns: 'a.test', port, interval: '1m' } }) });
    await upstreams.ready();
    const pool = upstreams
      .sync({ s: service({ discovery: { dns: 'b.test', port, interval: '1m' } }) })
      .get('s')!;
    assert.equal(await get(pool), '127.0.0.1', 'no gap before the new answer');
    await upstreams.ready();
    assert.equal(await get(pool), '127.0.0.2');
  });
});
