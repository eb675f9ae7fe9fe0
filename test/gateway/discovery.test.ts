// DNS discovery through a real gateway: a real UDP DNS server names the instances,
// real upstreams on 127.0.0.1 and 127.0.0.2 (both loopback on Linux) serve them, and
// traffic follows the record set as it changes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { startUpstream, type TestUpstream, type UpstreamHandler } from '../helpers/upstream.ts';

const NAME = 'catalog.gatehouse.test';

let dns: TestDnsServer;
let first: TestUpstream;
let second: TestUpstream;
let gw: TestGateway;

/** Answers with the address it is bound to, so the client sees which instance served. */
function named(address: string): UpstreamHandler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(address);
  };
}

before(async () => {
  dns = await startDnsServer({ [NAME]: { A: ['127.0.0.1'] } });
  // Discovery gives every address the same port: find one free on both addresses.
  for (let attempt = 0; ; attempt++) {
    first = await startUpstream(named('127.0.0.1'));
    try {
      second = await startUpstream(named('127.0.0.2'), '127.0.0.2', first.port);
      break;
    } catch (error) {
      await first.close();
      if (attempt === 5) throw error;
    }
  }
  gw = await startTestGateway(
    {
      services: { catalog: { discovery: { dns: NAME, port: first.port, interval: '100ms' } } },
      routes: [{ path: '/t', service: 'catalog' }],
    },
    { dnsServers: [dns.address] },
  );
});

after(async () => {
  await gw?.close();
  await Promise.all([first?.close(), second?.close(), dns?.close()]);
});

/** Requests an upstream received. */
function traffic(upstream: TestUpstream): number {
  return upstream.requests.filter((request) => request.url.startsWith('/t')).length;
}

async function origins(): Promise<string[]> {
  const status = (await send(`${gw.adminUrl}/status`)).json<{
    services: Record<string, { origin: string }[]>;
  }>();
  return (status.services.catalog ?? []).map((instance) => instance.origin).sort();
}

/** Sends `count` sequential GETs; every one must succeed. Returns who answered each. */
async function requests(count: number, tag: string): Promise<string[]> {
  const answers: string[] = [];
  for (let i = 0; i < count; i++) {
    const response = await send(`${gw.url}/t/${tag}/${i}`);
    assert.equal(response.status, 200, `${tag} #${i}: ${response.body}`);
    answers.push(response.body.toString());
  }
  return answers;
}

/** Keeps traffic flowing (every request must succeed) until `condition` holds. */
async function trafficUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; !(await condition()); i++) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await requests(1, `switch-${i}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const count = (answers: readonly string[], address: string) =>
  answers.filter((answer) => answer === address).length;

test('traffic follows the DNS record set, with no failed request on the way', async () => {
  // One A record: every request reaches 127.0.0.1.
  assert.deepEqual(await origins(), [`http://127.0.0.1:${first.port}`]);
  const initially = await requests(20, 'one');
  assert.equal(count(initially, '127.0.0.1'), 20);
  assert.equal(traffic(second), 0);

  // Both addresses: round robin over the two discovered instances.
  dns.records.set(NAME, { A: ['127.0.0.1', '127.0.0.2'] });
  await trafficUntil('127.0.0.2 to be discovered', async () => (await origins()).length === 2);
  const both = await requests(40, 'both');
  assert.ok(
    Math.abs(count(both, '127.0.0.1') - 20) <= 1,
    `split ${count(both, '127.0.0.1')}/${count(both, '127.0.0.2')}`,
  );
  assert.equal(count(both, '127.0.0.1') + count(both, '127.0.0.2'), 40);

  // Only 127.0.0.2: the old instance is retired and gets nothing more.
  dns.records.set(NAME, { A: ['127.0.0.2'] });
  await trafficUntil(
    '127.0.0.1 to be retired',
    async () => (await origins()).join() === `http://127.0.0.2:${first.port}`,
  );
  const firstBefore = traffic(first);
  const moved = await requests(30, 'moved');
  assert.equal(count(moved, '127.0.0.2'), 30);
  assert.equal(traffic(first), firstBefore, 'the removed instance sees no request');
});

test('a failing DNS server does not take the instances away', async () => {
  const queries = dns.queries;
  dns.failing = true;
  try {
    // SERVFAIL for a few rounds of lookups (A and AAAA each round).
    const deadline = Date.now() + 5000;
    while (dns.queries < queries + 6) {
      assert.ok(Date.now() < deadline, 'discovery kept resolving');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(await origins(), [`http://127.0.0.2:${first.port}`]);
    const answers = await requests(10, 'failing');
    assert.equal(count(answers, '127.0.0.2'), 10);
  } finally {
    dns.failing = false;
  }
});
