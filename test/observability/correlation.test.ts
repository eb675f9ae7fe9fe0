import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTraceparent, requestIdFrom, traceFrom } from '../../src/observability/correlation.ts';

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

test('new traces get well-formed, distinct ids, also across refills of the random pool', () => {
  const traceIds = new Set<string>();
  const spanIds = new Set<string>();
  // 24 bytes a trace: 1,000 traces go through the 4 KB pool several times.
  for (let i = 0; i < 1000; i++) {
    const { traceId, traceparent } = traceFrom(undefined);
    assert.match(traceparent, TRACEPARENT);
    assert.equal(traceparent.slice(3, 35), traceId);
    traceIds.add(traceId);
    spanIds.add(traceparent.slice(36, 52));
  }
  assert.equal(traceIds.size, 1000);
  assert.equal(spanIds.size, 1000);
});

test("a valid incoming traceparent keeps its trace id and flags with the gateway's own span id", () => {
  const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';
  const { traceId, traceparent } = traceFrom(incoming);
  assert.equal(traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.match(traceparent, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-00$/);
  assert.notEqual(traceparent.slice(36, 52), '00f067aa0ba902b7');
  assert.equal(parseTraceparent(incoming)?.flags, 0);
});

test('an all-zero or malformed traceparent starts a new trace', () => {
  for (const bad of ['00-00000000000000000000000000000000-00f067aa0ba902b7-01', 'garbage', ['a', 'b']]) {
    const { traceId, traceparent } = traceFrom(bad);
    assert.notEqual(traceId, '0'.repeat(32));
    assert.match(traceparent, TRACEPARENT);
  }
});

test('a well-formed client X-Request-ID is kept, anything else replaced', () => {
  assert.equal(requestIdFrom('abc-123'), 'abc-123');
  assert.match(requestIdFrom('has space'), /^[0-9a-f-]{36}$/);
  assert.match(requestIdFrom(undefined), /^[0-9a-f-]{36}$/);
});
