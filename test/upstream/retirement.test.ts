import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Retirement } from '../../src/upstream/retirement.ts';

describe('Retirement', () => {
  it('closes at once when nothing is in flight, and only once', async () => {
    const retirement = new Retirement();
    let closes = 0;
    const close = async () => {
      closes++;
    };
    const first = retirement.retire(close);
    assert.equal(retirement.retire(close), first, 'the same promise on every call');
    await first;
    assert.equal(closes, 1);
    assert.equal(retirement.retiring, true);
  });

  it('waits for the last request in flight before closing', async () => {
    const retirement = new Retirement();
    let closed = false;
    retirement.begin();
    retirement.begin();
    const done = retirement.retire(async () => {
      closed = true;
    });
    retirement.end();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(closed, false, 'one request still runs');
    assert.equal(retirement.inFlight, 1);
    retirement.end();
    await done;
    assert.equal(closed, true);
  });
});
