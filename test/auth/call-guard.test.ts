import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CallGuard } from '../../src/auth/call-guard.ts';
import { circuitBreakerSchema } from '../../src/config/schema.ts';
import { fakeClock } from '../helpers/clock.ts';

test('the call rate limit refuses at once past a burst of one second of calls', () => {
  const time = fakeClock();
  const guard = new CallGuard({
    callsPerSecond: 5,
    breaker: circuitBreakerSchema.parse({}),
    clock: time.clock,
  });
  for (let i = 0; i < 5; i++) assert.equal(guard.acquire().admitted, true);
  // The next token is one fifth of a second away.
  assert.deepEqual(guard.acquire(), { admitted: false, refusal: 'rate_limited', retryAfterMs: 200 });
  time.advance(200);
  assert.equal(guard.acquire().admitted, true);
  assert.equal(guard.acquire().admitted, false);
});

test('rates below one call per second still admit one', () => {
  const time = fakeClock();
  const guard = new CallGuard({
    callsPerSecond: 0.5,
    breaker: circuitBreakerSchema.parse({}),
    clock: time.clock,
  });
  assert.equal(guard.acquire().admitted, true);
  assert.equal(guard.acquire().admitted, false);
  time.advance(2000);
  assert.equal(guard.acquire().admitted, true);
});

test('an open breaker refuses without spending rate tokens, then half-opens after its timeout', () => {
  const time = fakeClock();
  const changes: string[] = [];
  const guard = new CallGuard({
    callsPerSecond: 2,
    breaker: circuitBreakerSchema.parse({
      min_requests: 2,
      failure_ratio: 0.5,
      timeout: '10s',
      max_requests: 1,
    }),
    clock: time.clock,
    onBreakerStateChange: (from, to) => changes.push(`${from}->${to}`),
  });
  for (let i = 0; i < 2; i++) {
    const admission = guard.acquire();
    assert.ok(admission.admitted);
    guard.record(admission.permit, false);
  }
  assert.equal(guard.breakerState, 'open');
  for (let i = 0; i < 10; i++) {
    time.advance(100);
    // The breaker's remaining open time is the wait the client is told.
    assert.deepEqual(guard.acquire(), {
      admitted: false,
      refusal: 'circuit_open',
      retryAfterMs: 10_000 - 100 * (i + 1),
    });
  }
  time.advance(9_000);
  const trial = guard.acquire();
  assert.ok(trial.admitted, 'the bucket refilled and was not drained by the refusals');
  // Half-open with its one trial taken: no time is known.
  assert.deepEqual(
    guard.acquire(),
    { admitted: false, refusal: 'circuit_open', retryAfterMs: undefined },
    'one trial at a time',
  );
  guard.record(trial.permit, true);
  assert.equal(guard.breakerState, 'closed');
  assert.deepEqual(changes, ['closed->open', 'open->half_open', 'half_open->closed']);
});
