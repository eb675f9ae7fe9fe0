import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientBudget } from '../../src/auth/client-budget.ts';
import { fakeClock } from '../helpers/clock.ts';

describe('ClientBudget', () => {
  it('gives each address a burst of one second, then refuses it with the wait until its next token', () => {
    const time = fakeClock();
    const budget = new ClientBudget(5, time.clock);
    for (let i = 0; i < 5; i++) assert.equal(budget.reserve('203.0.113.1').admitted, true);
    const refused = budget.reserve('203.0.113.1');
    assert.deepEqual(refused, { admitted: false, retryAfterMs: 200 });
    assert.equal(budget.reserve('198.51.100.2').admitted, true, 'another address has its own share');
    time.advance(200);
    assert.equal(budget.reserve('203.0.113.1').admitted, true, 'one token back after 1/rate');
  });

  it('a refunded reservation costs nothing, and a full bucket forgets the address', () => {
    const time = fakeClock();
    const budget = new ClientBudget(2, time.clock);
    for (let i = 0; i < 10; i++) {
      const reservation = budget.reserve('203.0.113.1');
      assert.ok(reservation.admitted);
      budget.refund(reservation);
    }
    assert.equal(budget.size, 0);
    const kept = budget.reserve('203.0.113.1');
    const refunded = budget.reserve('203.0.113.1');
    assert.ok(kept.admitted && refunded.admitted);
    budget.refund(refunded);
    assert.equal(budget.reserve('203.0.113.1').admitted, true, 'the refunded token is there again');
    assert.equal(budget.reserve('203.0.113.1').admitted, false);
  });

  it('tracks a bounded number of addresses', () => {
    const time = fakeClock();
    const budget = new ClientBudget(1, time.clock, 100);
    for (let i = 0; i < 1000; i++) budget.reserve(`10.0.${i >> 8}.${i & 255}`);
    assert.equal(budget.size, 100);
  });

  it('a rate below one per second still admits one refusal', () => {
    const time = fakeClock();
    const budget = new ClientBudget(0.5, time.clock);
    assert.equal(budget.reserve('203.0.113.1').admitted, true);
    assert.deepEqual(budget.reserve('203.0.113.1'), { admitted: false, retryAfterMs: 2000 });
  });
});
