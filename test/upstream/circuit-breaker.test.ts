import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type BreakerSettings,
  type BreakerState,
  CircuitBreaker,
} from '../../src/upstream/circuit-breaker.ts';
import { fakeClock } from '../helpers/clock.ts';

const settings: BreakerSettings = {
  maxRequests: 2,
  intervalMs: 60_000,
  timeoutMs: 30_000,
  failureRatio: 0.5,
  minRequests: 4,
};

function setup(overrides: Partial<BreakerSettings> = {}) {
  const clock = fakeClock(1_000_000);
  const transitions: string[] = [];
  const breaker = new CircuitBreaker({ ...settings, ...overrides }, clock.clock, (from, to) =>
    transitions.push(`${from}->${to}`),
  );
  /** Admits and records one request. */
  const call = (success: boolean) => {
    const permit = breaker.tryAcquire();
    assert.ok(permit, 'expected the breaker to admit');
    breaker.record(permit, success);
  };
  const trip = () => {
    for (let i = 0; i < 4; i++) call(false);
    assert.equal(breaker.state, 'open');
  };
  return { clock, breaker, transitions, call, trip };
}

describe('CircuitBreaker: closed', () => {
  it('trips only once min_requests is reached and the failure ratio is met', () => {
    const { breaker, call, transitions } = setup();
    call(false);
    call(true);
    call(false);
    assert.equal(breaker.state, 'closed', '3 requests < min_requests 4');
    call(true);
    assert.equal(breaker.state, 'closed', 'only a failure can trip it (gobreaker)');
    call(false);
    assert.equal(breaker.state, 'open', '3/5 >= 0.5');
    assert.deepEqual(transitions, ['closed->open']);
  });

  it('stays closed while the ratio is below failure_ratio', () => {
    const { breaker, call } = setup();
    for (const success of [true, true, false, true, true, false, true]) call(success);
    assert.equal(breaker.state, 'closed');
    assert.equal(breaker.counts.totalFailures, 2);
  });

  it('starts a new counting window after interval', () => {
    const { breaker, call, clock } = setup();
    call(false);
    call(false);
    call(false);
    clock.advance(60_000);
    assert.equal(breaker.counts.requests, 0, 'counts reset with the window');
    call(false);
    assert.equal(breaker.state, 'closed', 'one failure in the new window is not enough');
  });

  it('ignores results of requests admitted in an earlier window', () => {
    const { breaker, call, clock } = setup();
    const stale = [breaker.tryAcquire()!, breaker.tryAcquire()!, breaker.tryAcquire()!];
    clock.advance(60_000);
    call(true);
    for (const permit of stale) breaker.record(permit, false);
    assert.equal(breaker.state, 'closed');
    assert.deepEqual(
      { ...breaker.counts },
      { requests: 1, totalSuccesses: 1, totalFailures: 0, consecutiveSuccesses: 1, consecutiveFailures: 0 },
    );
  });
});

describe('CircuitBreaker: open and half-open', () => {
  it('rejects while open and reports the time left', () => {
    const { breaker, trip, clock } = setup();
    trip();
    assert.equal(breaker.canAdmit(), false);
    assert.equal(breaker.tryAcquire(), undefined);
    assert.equal(breaker.retryAfterMs(), 30_000);
    clock.advance(29_999);
    assert.equal(breaker.retryAfterMs(), 1);
    assert.equal(breaker.state, 'open');
  });

  it('goes half-open after timeout and admits exactly max_requests trials', () => {
    const { breaker, trip, clock, transitions } = setup();
    trip();
    clock.advance(30_000);
    assert.equal(breaker.state, 'half_open');
    assert.equal(breaker.retryAfterMs(), undefined);
    const permits = [breaker.tryAcquire(), breaker.tryAcquire()];
    assert.ok(permits.every(Boolean));
    assert.equal(breaker.tryAcquire(), undefined, 'a third trial is refused');
    assert.deepEqual(transitions, ['closed->open', 'open->half_open']);
  });

  it('closes after max_requests consecutive successes', () => {
    const { breaker, trip, clock, transitions } = setup();
    trip();
    clock.advance(30_000);
    const [first, second] = [breaker.tryAcquire()!, breaker.tryAcquire()!];
    breaker.record(first, true);
    assert.equal(breaker.state, 'half_open');
    breaker.record(second, true);
    assert.equal(breaker.state, 'closed');
    assert.deepEqual(transitions, ['closed->open', 'open->half_open', 'half_open->closed']);
    assert.equal(breaker.counts.requests, 0, 'a fresh window');
  });

  it('reopens on any failure while half-open, for a full timeout', () => {
    const { breaker, trip, clock, transitions } = setup();
    trip();
    clock.advance(30_000);
    const [first, second] = [breaker.tryAcquire()!, breaker.tryAcquire()!];
    breaker.record(first, true);
    breaker.record(second, false);
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.retryAfterMs(), 30_000);
    assert.deepEqual(transitions, ['closed->open', 'open->half_open', 'half_open->open']);
  });

  it('ignores a result from before the trip (stale generation)', () => {
    const { breaker, call, clock } = setup();
    const early = breaker.tryAcquire()!;
    for (let i = 0; i < 3; i++) call(false);
    assert.equal(breaker.state, 'open', 'the in-flight request counts toward min_requests');
    clock.advance(30_000);
    breaker.record(early, false);
    assert.equal(breaker.state, 'half_open', 'the late failure must not reopen it');
  });

  it('release() hands a half-open slot back without counting an outcome', () => {
    const { breaker, trip, clock } = setup();
    trip();
    clock.advance(30_000);
    const abandoned = breaker.tryAcquire()!;
    const kept = breaker.tryAcquire()!;
    assert.equal(breaker.canAdmit(), false);
    breaker.release(abandoned);
    assert.equal(breaker.counts.requests, 1);
    breaker.record(kept, true);
    const next = breaker.tryAcquire();
    assert.ok(next, 'the released slot is available again');
    breaker.record(next, true);
    assert.equal(breaker.state, 'closed' satisfies BreakerState);
  });

  it('release() leaves the closed window without the request', () => {
    const { breaker, call } = setup();
    call(false);
    call(false);
    const gone = breaker.tryAcquire()!;
    breaker.release(gone);
    call(true);
    assert.equal(breaker.counts.requests, 3);
    assert.equal(breaker.state, 'closed');
  });
});
