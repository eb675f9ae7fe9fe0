// Resilience through a real gateway and real upstreams: load balancing, health checks,
// the circuit breaker, fail-fast 503s, and retries/failover (DESIGN.md, "Behaviour at
// the edges"). Every test starts its own gateway so selectors and breakers start fresh.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { type TestContext, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { rawExchange, type SimpleResponse, send } from '../helpers/http.ts';
import { refusedPort, startUpstream, type TestUpstream, type UpstreamHandler } from '../helpers/upstream.ts';

// ---------------------------------------------------------------------------------
// Helpers

/** Answers 200 with its own name, so the client can tell which instance served it. */
function named(name: string, delayMs = 0): UpstreamHandler {
  return (_req, res) => {
    const answer = () => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(name) });
      res.end(name);
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  };
}

/** Requests an upstream received on the data path (health probes left out). */
function traffic(upstream: TestUpstream, prefix = '/t'): number {
  return upstream.requests.filter((request) => request.url.startsWith(prefix)).length;
}

async function gateway(t: TestContext, config: Record<string, unknown>): Promise<TestGateway> {
  const gw = await startTestGateway(config);
  t.after(() => gw.close());
  return gw;
}

async function upstreamFor(t: TestContext, handler?: UpstreamHandler, port = 0): Promise<TestUpstream> {
  const upstream = await startUpstream(handler, '127.0.0.1', port);
  t.after(() => upstream.close());
  return upstream;
}

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. */
async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface InstanceStatus {
  origin: string;
  healthy: boolean;
  breaker: string;
}

async function instanceStatus(
  gw: TestGateway,
  service: string,
  origin: string,
): Promise<InstanceStatus | undefined> {
  const status = (await send(`${gw.adminUrl}/status`)).json<{ services: Record<string, InstanceStatus[]> }>();
  return status.services[service]?.find((instance) => instance.origin === origin);
}

/** The value of a per-instance gauge on the admin /metrics page. */
async function instanceGauge(
  gw: TestGateway,
  metric: string,
  service: string,
  origin: string,
): Promise<number | undefined> {
  const text = (await send(`${gw.adminUrl}/metrics`)).body.toString();
  for (const line of text.split('\n')) {
    if (
      line.startsWith(`${metric}{`) &&
      line.includes(`service="${service}"`) &&
      line.includes(`instance="${origin}"`)
    ) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return undefined;
}

function errorOf(response: SimpleResponse): { code: string; message: string; request_id: string } {
  return response.json<{ error: { code: string; message: string; request_id: string } }>().error;
}

/** Access-log lines of the requests whose X-Request-ID starts with `prefix`. */
function accessLines(gw: TestGateway, prefix: string): Record<string, unknown>[] {
  return gw.logs().filter((line) => line.msg === 'request' && String(line.request_id).startsWith(prefix));
}

function tally(names: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

// ---------------------------------------------------------------------------------
// Load balancing

test('round_robin splits 300 sequential GETs evenly over 3 instances', async (t) => {
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => upstreamFor(t, named(name))));
  const gw = await gateway(t, {
    services: { rr: { urls: [a.url, b.url, c.url], load_balancing: 'round_robin' } },
    routes: [{ path: '/t', service: 'rr' }],
  });
  const answers: string[] = [];
  for (let i = 0; i < 300; i++) {
    const response = await send(`${gw.url}/t/${i}`);
    assert.equal(response.status, 200);
    answers.push(response.body.toString());
  }
  const counts = [traffic(a), traffic(b), traffic(c)];
  t.diagnostic(`split a/b/c: ${counts.join('/')}`);
  for (const count of counts) assert.ok(Math.abs(count - 100) <= 1, `split ${counts.join('/')}`);
  assert.deepEqual(tally(answers), { a: counts[0], b: counts[1], c: counts[2] });
});

test('weighted 3:1 sends three quarters of the traffic to the heavy instance', async (t) => {
  const heavy = await upstreamFor(t, named('heavy'));
  const light = await upstreamFor(t, named('light'));
  const gw = await gateway(t, {
    services: {
      weighted: {
        instances: [
          { url: heavy.url, weight: 3 },
          { url: light.url, weight: 1 },
        ],
        load_balancing: 'weighted',
      },
    },
    routes: [{ path: '/t', service: 'weighted' }],
  });
  const total = 400;
  for (let i = 0; i < total; i++) assert.equal((await send(`${gw.url}/t/${i}`)).status, 200);
  assert.equal(traffic(heavy) + traffic(light), total);
  const share = traffic(heavy) / total;
  t.diagnostic(`heavy/light: ${traffic(heavy)}/${traffic(light)}`);
  assert.ok(Math.abs(share - 0.75) <= 0.03, `heavy got ${traffic(heavy)}, light ${traffic(light)}`);
});

test('least_connections sends most of the concurrent traffic to the fast instance', async (t) => {
  // The slow instance holds each request a full second, far longer than a loaded
  // machine makes the fast one take, so the split depends on the balancer, not on speed.
  const fast = await upstreamFor(t, named('fast'));
  const slow = await upstreamFor(t, named('slow', 1000));
  const gw = await gateway(t, {
    services: { lc: { urls: [slow.url, fast.url], load_balancing: 'least_connections' } },
    routes: [{ path: '/t', service: 'lc' }],
  });
  // A fixed number of requests (not a time window), so the sample size does not depend on load.
  const total = 100;
  let sent = 0;
  const client = async () => {
    while (sent < total) {
      sent++;
      assert.equal((await send(`${gw.url}/t`)).status, 200);
    }
  };
  await Promise.all(Array.from({ length: 10 }, client));
  t.diagnostic(`fast/slow: ${traffic(fast)}/${traffic(slow)}`);
  assert.equal(traffic(fast) + traffic(slow), total);
  // Round robin would give each half; least_connections sends the slow instance only
  // what it frees each second (about half the clients), the rest to the fast one.
  assert.ok(traffic(fast) / total >= 0.7, `fast got ${traffic(fast)}, slow ${traffic(slow)}`);
});

// ---------------------------------------------------------------------------------
// Health checks

test('an instance killed mid-traffic costs at most one failed GET and comes back once its probe passes', async (t) => {
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => upstreamFor(t, named(name))));
  const gw = await gateway(t, {
    services: {
      pool: {
        urls: [a.url, b.url, c.url],
        // retries: 3, so a probe slowed by a loaded machine does not take a live instance
        // out; the killed one leaves at once anyway (its refused connection marks it down).
        health_check: {
          path: '/health',
          interval: '100ms',
          timeout: '200ms',
          retries: 3,
          max_backoff: '400ms',
        },
      },
    },
    routes: [{ path: '/t', service: 'pool' }],
  });

  // Three clients loop GETs until told to stop; every answer is kept.
  const statuses: number[] = [];
  let stop = false;
  const client = async (id: number) => {
    for (let i = 0; !stop; i++) {
      const response = await send(`${gw.url}/t/${id}/${i}`, {
        headers: { 'x-request-id': `loop-${id}-${i}` },
      });
      statuses.push(response.status);
    }
  };
  const clients = [0, 1, 2].map(client);
  try {
    await waitFor('traffic to reach b', () => traffic(b) >= 20);
    await b.close(); // closes the listener and destroys its open connections
    await waitFor(
      'b out of rotation',
      async () => (await instanceStatus(gw, 'pool', b.url))?.healthy === false,
    );
    const afterKill = statuses.length;
    await waitFor('traffic to go on', () => statuses.length >= afterKill + 60);
  } finally {
    stop = true;
    await Promise.all(clients);
  }
  const failures = statuses.filter((status) => status !== 200).length;
  const retried = gw.logs().filter((line) => line.msg === 'request' && (line.attempts as number) > 1).length;
  t.diagnostic(
    `${statuses.length} GETs around the kill, ${failures} failed, ${retried} failed over to another instance`,
  );
  assert.ok(failures <= 1, `${failures} failed GETs out of ${statuses.length}`);

  // With b known down, nothing even tries it: one attempt each, split between a and c.
  const sent: string[] = [];
  for (let i = 0; i < 30; i++) {
    const response = await send(`${gw.url}/t/down/${i}`, { headers: { 'x-request-id': `down-${i}` } });
    assert.equal(response.status, 200);
    sent.push(response.body.toString());
  }
  const down = tally(sent);
  assert.deepEqual(Object.keys(down).sort(), ['a', 'c']);
  assert.ok(Math.abs(down.a - 15) <= 1, JSON.stringify(down));
  await waitFor('access-log lines', () => accessLines(gw, 'down-').length === 30);
  for (const line of accessLines(gw, 'down-')) {
    assert.equal(line.attempts, 1);
    assert.notEqual(line.instance, b.url);
  }

  // Restarted on the same port: one passing probe brings it back, and traffic reaches it.
  const revived = await upstreamFor(t, named('b'), b.port);
  await waitFor('b healthy again', async () => (await instanceStatus(gw, 'pool', b.url))?.healthy === true);
  assert.equal(await instanceGauge(gw, 'gatehouse_upstream_up', 'pool', b.url), 1);
  const back: string[] = [];
  for (let i = 0; i < 30; i++) {
    const response = await send(`${gw.url}/t/back/${i}`);
    assert.equal(response.status, 200);
    back.push(response.body.toString());
  }
  const split = tally(back);
  for (const name of ['a', 'b', 'c'])
    assert.ok(Math.abs((split[name] ?? 0) - 10) <= 1, JSON.stringify(split));
  assert.equal(traffic(revived), split.b);
});

// ---------------------------------------------------------------------------------
// Circuit breaker

test('the breaker trips on failures, fails fast without calling the upstream, and closes through half-open', async (t) => {
  let healthy = false;
  // While broken: 500. Once fixed, the first (trial) request waits for `releaseTrial`.
  let releaseTrial: () => void = () => {};
  const trialHeld = new Promise<void>((resolve) => {
    releaseTrial = resolve;
  });
  let holdNext = false;
  const upstream = await upstreamFor(t, (_req, res) => {
    if (!healthy) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('broken');
      return;
    }
    const answer = () => res.end('fixed');
    if (holdNext) {
      holdNext = false;
      void trialHeld.then(answer);
    } else answer();
  });
  const gw = await gateway(t, {
    services: {
      flaky: {
        url: upstream.url,
        // Open for 1s rather than 300ms: the open-phase checks below must all fit in the
        // open window even on a loaded CI machine, or a trial request would reach the upstream.
        circuit_breaker: { min_requests: 3, failure_ratio: 0.5, timeout: '1s', max_requests: 1 },
      },
    },
    routes: [{ path: '/t', service: 'flaky' }],
  });

  // Closed: three 500s pass through to the client and trip the breaker.
  for (let i = 0; i < 3; i++) assert.equal((await send(`${gw.url}/t/${i}`)).status, 500);
  assert.equal(traffic(upstream), 3);
  assert.equal(await instanceGauge(gw, 'gatehouse_breaker_state', 'flaky', upstream.url), 2);

  // Open: 503 UPSTREAM_UNAVAILABLE with Retry-After, and the upstream is not called.
  const started = performance.now();
  const rejected = await send(`${gw.url}/t/open`, { headers: { 'x-request-id': 'breaker-open' } });
  const elapsed = performance.now() - started;
  assert.equal(rejected.status, 503);
  assert.equal(errorOf(rejected).code, 'UPSTREAM_UNAVAILABLE');
  assert.equal(errorOf(rejected).request_id, 'breaker-open');
  assert.match(String(rejected.headers['retry-after']), /^[1-9]\d*$/);
  assert.ok(elapsed < 500, `open breaker answered after ${elapsed} ms`);
  for (let i = 0; i < 5; i++) assert.equal((await send(`${gw.url}/t/open/${i}`)).status, 503);
  assert.equal(traffic(upstream), 3, 'an open breaker does not call the upstream');

  // The upstream is fixed; after the timeout the breaker is half-open and admits one trial.
  healthy = true;
  holdNext = true;
  await waitFor(
    'half-open',
    async () => (await instanceGauge(gw, 'gatehouse_breaker_state', 'flaky', upstream.url)) === 1,
  );
  assert.equal(traffic(upstream), 3, 'half-open by time alone, no request yet');
  const trial = send(`${gw.url}/t/trial`);
  await waitFor('the trial request to reach the upstream', () => traffic(upstream) === 4);
  // max_requests: 1, so while the trial is in flight everything else is still refused.
  const second = await send(`${gw.url}/t/while-trial`);
  assert.equal(second.status, 503);
  assert.equal(errorOf(second).code, 'UPSTREAM_UNAVAILABLE');
  assert.equal(traffic(upstream), 4);
  releaseTrial();
  assert.equal((await trial).status, 200);

  // The trial passed: closed again, and traffic flows.
  assert.equal(await instanceGauge(gw, 'gatehouse_breaker_state', 'flaky', upstream.url), 0);
  for (let i = 0; i < 10; i++) assert.equal((await send(`${gw.url}/t/after/${i}`)).status, 200);
  assert.equal(traffic(upstream), 14);
});

// ---------------------------------------------------------------------------------
// Fail fast when nothing is available

test('with every instance failing its health checks the gateway answers 503 at once, calling no upstream', async (t) => {
  let probesPass = true;
  const handler: UpstreamHandler = (req, res) => {
    if (req.url === '/health' && !probesPass) {
      res.writeHead(503);
      res.end();
    } else named('up')(req, res, Buffer.alloc(0));
  };
  const [a, b] = await Promise.all([upstreamFor(t, handler), upstreamFor(t, handler)]);
  const gw = await gateway(t, {
    services: {
      checked: {
        urls: [a.url, b.url],
        health_check: {
          path: '/health',
          interval: '100ms',
          timeout: '200ms',
          retries: 2,
          max_backoff: '400ms',
        },
      },
    },
    routes: [{ path: '/t', service: 'checked' }],
  });
  assert.equal((await send(`${gw.url}/t/ok`)).status, 200);

  probesPass = false;
  await waitFor('both instances unhealthy', async () => {
    const [sa, sb] = await Promise.all([
      instanceStatus(gw, 'checked', a.url),
      instanceStatus(gw, 'checked', b.url),
    ]);
    return sa?.healthy === false && sb?.healthy === false;
  });
  const before = traffic(a) + traffic(b);
  const started = performance.now();
  const response = await send(`${gw.url}/t/down`, { headers: { 'x-request-id': 'all-down' } });
  const elapsed = performance.now() - started;
  assert.equal(response.status, 503);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  assert.deepEqual(response.json(), {
    error: {
      code: 'UPSTREAM_UNAVAILABLE',
      message: 'No healthy instance of the upstream service is available',
      request_id: 'all-down',
    },
  });
  assert.ok(elapsed < 500, `answered after ${elapsed} ms`);
  assert.equal(traffic(a) + traffic(b), before, 'no upstream was called');
});

test('with every breaker open the gateway answers 503 at once with Retry-After', async (t) => {
  const failing: UpstreamHandler = (_req, res) => {
    res.writeHead(500);
    res.end();
  };
  const [a, b] = await Promise.all([upstreamFor(t, failing), upstreamFor(t, failing)]);
  const gw = await gateway(t, {
    services: {
      broken: {
        urls: [a.url, b.url],
        circuit_breaker: { min_requests: 3, failure_ratio: 0.5, timeout: '30s', max_requests: 1 },
      },
    },
    routes: [{ path: '/t', service: 'broken' }],
  });
  // Six 500s open both breakers (three each); at most a few more requests are needed.
  let response: SimpleResponse | undefined;
  for (let i = 0; i < 10; i++) {
    response = await send(`${gw.url}/t/${i}`);
    if (response.status === 503) break;
    assert.equal(response.status, 500);
  }
  assert.equal(response?.status, 503);
  assert.equal(traffic(a), 3);
  assert.equal(traffic(b), 3);

  const started = performance.now();
  const fast = await send(`${gw.url}/t/open`, { headers: { 'x-request-id': 'all-open' } });
  const elapsed = performance.now() - started;
  assert.equal(fast.status, 503);
  assert.deepEqual(fast.json(), {
    error: {
      code: 'UPSTREAM_UNAVAILABLE',
      message: 'No healthy instance of the upstream service is available',
      request_id: 'all-open',
    },
  });
  const retryAfter = Number(fast.headers['retry-after']);
  assert.ok(
    Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 30,
    `Retry-After ${fast.headers['retry-after']}`,
  );
  assert.ok(elapsed < 500, `answered after ${elapsed} ms`);
  assert.equal(traffic(a) + traffic(b), 6, 'no upstream was called');
});

// ---------------------------------------------------------------------------------
// Retries and failover

test('a POST whose first instance refuses the connection arrives intact, once, at the other', async (t) => {
  const good = await upstreamFor(t, (_req, res, body) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(createHash('sha256').update(body).digest('hex'));
  });
  // Two services, each with a refused first instance: one for a Content-Length body, one
  // for a chunked one (a refused instance leaves rotation, so each service fails over once).
  const gw = await gateway(t, {
    services: {
      sized: { urls: [`http://127.0.0.1:${await refusedPort()}`, good.url] },
      chunked: { urls: [`http://127.0.0.1:${await refusedPort()}`, good.url] },
    },
    routes: [
      { path: '/t/sized', service: 'sized' },
      { path: '/t/chunked', service: 'chunked' },
    ],
  });
  const payload = randomBytes(256 * 1024);
  const digest = createHash('sha256').update(payload).digest('hex');
  async function* inPieces() {
    for (let offset = 0; offset < payload.length; offset += 16 * 1024)
      yield payload.subarray(offset, offset + 16 * 1024);
  }
  for (const [kind, body] of [
    ['sized', payload],
    ['chunked', inPieces()],
  ] as const) {
    const before = traffic(good);
    const response = await send(`${gw.url}/t/${kind}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/octet-stream', 'x-request-id': `failover-${kind}` },
    });
    assert.equal(response.status, 200, `${kind}: ${response.body}`);
    assert.equal(response.body.toString(), digest, kind);
    assert.equal(traffic(good), before + 1, `${kind}: counted once`);
    const seen = good.requests[good.requests.length - 1];
    assert.equal(seen.headers['transfer-encoding'], kind === 'chunked' ? 'chunked' : undefined);
    assert.ok(seen.body.equals(payload), `${kind}: byte-exact body`);
    await waitFor('the access-log line', () => accessLines(gw, `failover-${kind}`).length === 1);
    const [line] = accessLines(gw, `failover-${kind}`);
    assert.equal(line.attempts, 2, `${kind}: the refused instance was tried first`);
    assert.equal(line.instance, good.url);
  }
});

/** Closes the connection as soon as the request has arrived: no response headers. */
const resetBeforeHeaders: UpstreamHandler = (req) => {
  req.socket.destroy();
};

test('an idempotent GET reset before response headers is retried once on another instance', async (t) => {
  const resetting = await upstreamFor(t, resetBeforeHeaders);
  const good = await upstreamFor(t, named('good'));
  const gw = await gateway(t, {
    services: { resets: { urls: [resetting.url, good.url] } },
    routes: [{ path: '/t', service: 'resets' }],
  });
  const response = await send(`${gw.url}/t/get`);
  assert.equal(response.status, 200);
  assert.equal(response.body.toString(), 'good');
  assert.equal(traffic(resetting), 1);
  assert.equal(traffic(good), 1);
});

test('a POST reset before response headers is not retried: 502, and the other instance never sees it', async (t) => {
  const resetting = await upstreamFor(t, resetBeforeHeaders);
  const good = await upstreamFor(t, named('good'));
  const gw = await gateway(t, {
    services: { resets: { urls: [resetting.url, good.url] } },
    routes: [{ path: '/t', service: 'resets' }],
  });
  const response = await send(`${gw.url}/t/post`, { method: 'POST', body: 'not twice' });
  assert.equal(response.status, 502);
  assert.equal(errorOf(response).code, 'BAD_GATEWAY');
  assert.equal(traffic(resetting), 1);
  assert.equal(resetting.requests[0].body.toString(), 'not twice');
  assert.equal(traffic(good), 0, 'not retried');
});

test('nothing is retried once the response has started: the client sees it cut short', async (t) => {
  const breaking = await upstreamFor(t, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
    res.write('partial');
    setTimeout(() => req.socket.destroy(), 20);
  });
  const good = await upstreamFor(t, named('good'));
  const gw = await gateway(t, {
    services: { cut: { urls: [breaking.url, good.url] } },
    routes: [{ path: '/t', service: 'cut' }],
  });
  // A real client library reports the cut response as an error, not as a short body.
  await assert.rejects(send(`${gw.url}/t/cut`));
  assert.equal(traffic(breaking), 1);
  assert.equal(traffic(good), 0, 'not retried');

  // Round robin moves on to the good instance, then back to the breaking one: seen raw,
  // the headers arrived, then the bytes the upstream sent, then the connection closed.
  assert.equal((await send(`${gw.url}/t/between`)).status, 200);
  const answer = await rawExchange(gw.url, 'GET /t/cut-raw HTTP/1.1\r\nHost: gw\r\n\r\n', 3000);
  assert.match(answer, /^HTTP\/1\.1 200/);
  assert.match(answer, /content-length: 1000/i);
  assert.equal(
    answer.slice(answer.indexOf('\r\n\r\n') + 4),
    'partial',
    'the response stops where the upstream broke',
  );
  assert.equal(traffic(breaking), 2);
  assert.equal(traffic(good), 1, 'not retried');
});
