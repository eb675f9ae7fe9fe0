// Route retries through real sockets: a 503 with Retry-After on an idempotent request
// is retried on another instance, and while every instance fails the retries stop at
// the route's budget (counted as upstream hits).
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

const busy = (_req: unknown, res: ServerResponse) => {
  res.writeHead(503, { 'retry-after': '1', 'content-type': 'text/plain' });
  res.end('busy');
};

let failing: TestUpstream[];
let flakyBad: TestUpstream;
let flakyGood: TestUpstream;
let gw: TestGateway;

// Breakers that never trip here: the test is about the budget, not the breaker.
const PATIENT_BREAKER = { min_requests: 10_000 };

before(async () => {
  failing = await Promise.all([startUpstream(busy), startUpstream(busy), startUpstream(busy)]);
  flakyBad = await startUpstream(busy);
  flakyGood = await startUpstream();
  gw = await startTestGateway({
    services: {
      down: { urls: failing.map((u) => u.url), circuit_breaker: PATIENT_BREAKER },
      flaky: { urls: [flakyBad.url, flakyGood.url], circuit_breaker: PATIENT_BREAKER },
    },
    routes: [
      { path: '/down', service: 'down', retries: { attempts: 2, budget: 0.1, min_retries: 2 } },
      { path: '/flaky', service: 'flaky', retries: { attempts: 1, budget: 1, min_retries: 100 } },
    ],
  });
});

after(async () => {
  await gw.close();
  await Promise.all([...failing, flakyBad, flakyGood].map((u) => u.close()));
});

const hits = (upstreams: TestUpstream[]) => upstreams.reduce((sum, u) => sum + u.requests.length, 0);

test('a 503 with Retry-After on a GET is retried on another instance; a POST with a body is not', async () => {
  for (let i = 0; i < 10; i++) {
    const response = await send(`${gw.url}/flaky/item`);
    assert.equal(response.status, 200, 'the retry reached the healthy instance');
  }
  assert.equal(flakyGood.requests.length, 10);
  assert.ok(flakyBad.requests.length >= 1, 'round robin sent some first attempts to the failing instance');

  const answers = [];
  for (let i = 0; i < 4; i++)
    answers.push((await send(`${gw.url}/flaky/item`, { method: 'POST', body: 'x' })).status);
  assert.ok(answers.includes(503), `a POST meeting the 503 gets it as is: ${answers.join(',')}`);
});

test('while every instance fails, retries stop at the budget', async () => {
  const requests = 40;
  const statuses = new Set<number>();
  for (let i = 0; i < requests; i++) statuses.add((await send(`${gw.url}/down/x`)).status);
  assert.deepEqual([...statuses], [503]);
  const upstreamHits = hits(failing);
  const retries = upstreamHits - requests;
  // Without a budget: 3 attempts each (120 hits). With it: at most max(min_retries, 10% of requests).
  assert.ok(retries >= 2, `some retries were made (${retries})`);
  assert.ok(retries <= Math.max(2, Math.ceil(0.1 * requests)), `${retries} retries for ${requests} requests`);

  const metrics = (await send(`${gw.adminUrl}/metrics`)).body.toString();
  const retried = Number(
    /gatehouse_retries_total\{route="\/down",result="retried"\} (\d+)/.exec(metrics)?.[1],
  );
  const refused = Number(
    /gatehouse_retries_total\{route="\/down",result="budget_exhausted"\} (\d+)/.exec(metrics)?.[1],
  );
  assert.equal(retried, retries, 'every retry is counted');
  assert.ok(refused >= requests - retries - 2, `budget refusals are counted (${refused})`);
});
