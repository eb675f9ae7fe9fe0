// Repeated upstream failures through the real gateway: one warning per failure kind and
// instance per interval, carrying the request's request_id and no stack trace.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { refusedPort } from '../helpers/upstream.ts';

let gw: TestGateway;
let origin: string;

before(async () => {
  origin = `http://127.0.0.1:${await refusedPort()}`;
  gw = await startTestGateway({
    services: { down: { url: origin } },
    routes: [{ path: '/down', service: 'down' }],
    log: { access_log: false },
  });
});

after(async () => {
  await gw.close();
});

test('thirty requests to a refusing instance: one line per failure kind and instance, no stack', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < 30; i++) {
    const response = await send(`${gw.url}/down`, { headers: { 'x-request-id': `fail-${i}` } });
    statuses.push(response.status);
  }
  assert.ok(
    statuses.every((status) => status === 502 || status === 503),
    statuses.join(','),
  );
  const lines = gw.logs().filter((line) => line.msg === 'upstream request failed');
  const kinds = lines.map((line) => `${line.code}|${line.cause}|${line.instance ?? line.service}`);
  assert.ok(lines.length >= 1, 'the failure is logged');
  assert.equal(new Set(kinds).size, kinds.length, `one line per kind and instance: ${kinds.join(', ')}`);
  assert.ok(lines.length <= 2, `30 failures, ${lines.length} lines (502 refused, then 503 while in backoff)`);
  assert.ok(kinds.includes(`BAD_GATEWAY|ECONNREFUSED|${origin}`), kinds.join(', '));
  for (const line of lines) {
    assert.equal(line.err, undefined, 'no error object, so no stack trace');
    assert.match(String(line.request_id), /^fail-\d+$/);
    assert.equal(line.requestId, undefined);
  }
  assert.equal(
    gw.logs().filter((line) => line.msg === 'request failed').length,
    0,
    'no unthrottled line per request',
  );
});
