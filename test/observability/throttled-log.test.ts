import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ThrottledLog } from '../../src/observability/throttled-log.ts';
import { fakeClock } from '../helpers/clock.ts';

interface Line {
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

function setup(intervalMs = 5000) {
  const time = fakeClock();
  const lines: Line[] = [];
  const log = new ThrottledLog((fields, message) => lines.push({ fields, message }), {
    intervalMs,
    schedule: time.schedule,
  });
  return { time, lines, log };
}

describe('ThrottledLog', () => {
  it('logs the first event at once and the count held back when its interval ends, without a stack', () => {
    const { time, lines, log } = setup();
    const error = new Error('connect ECONNREFUSED');
    log.log('refused|a', { kind: 'refused', instance: 'a', request_id: 'r1', err: error }, 'upstream failed');
    for (let i = 2; i <= 40; i++) {
      time.advance(100);
      log.log(
        'refused|a',
        { kind: 'refused', instance: 'a', request_id: `r${i}`, err: error },
        'upstream failed',
      );
    }
    assert.equal(lines.length, 1, 'repeats within the interval are only counted');
    assert.equal(lines[0].fields.request_id, 'r1');
    time.advance(1100); // t = 5000: the interval of the first line ends.
    assert.deepEqual(lines[1], {
      fields: { kind: 'refused', instance: 'a', suppressed: 39, interval_ms: 5000 },
      message: 'upstream failed (repeated)',
    });
  });

  it('one line per key: another kind or instance is logged on its own', () => {
    const { lines, log } = setup();
    log.log('refused|a', { kind: 'refused', instance: 'a' }, 'upstream failed');
    log.log('refused|b', { kind: 'refused', instance: 'b' }, 'upstream failed');
    log.log('timeout|a', { kind: 'timeout', instance: 'a' }, 'upstream failed');
    log.log('refused|a', { kind: 'refused', instance: 'a' }, 'upstream failed');
    assert.deepEqual(
      lines.map((line) => `${line.fields.kind}|${line.fields.instance}`),
      ['refused|a', 'refused|b', 'timeout|a'],
    );
  });

  it('the count comes on time from its own timer, not with the next unrelated line', () => {
    const { time, lines, log } = setup();
    log.log('redis', { reason: 'timeout' }, 'store failed');
    log.log('redis', { reason: 'timeout' }, 'store failed');
    time.advance(5000);
    assert.equal(lines.length, 2);
    assert.equal(lines[1].fields.suppressed, 1);
    log.log('other', { reason: 'x' }, 'something else');
    assert.deepEqual(lines[2].fields, { reason: 'x' }, 'an unrelated line carries no count');
  });

  it('a storm that goes on gives one summary line per interval; a quiet interval closes the key', () => {
    const { time, lines, log } = setup();
    // Every 100 ms for 12 s: lines at 0 (the event), 5000 and 10000 (summaries).
    for (let t = 0; t < 12_000; t += 100) {
      log.log('k', { reason: 'timeout' }, 'x');
      time.advance(100);
    }
    assert.deepEqual(
      lines.map((line) => line.fields.suppressed),
      [undefined, 49, 50],
    );
    time.advance(5000); // At 15 000 the 20 held back since 10 000 are reported.
    assert.equal(lines[3].fields.suppressed, 20);
    time.advance(5000); // At 20 000 nothing was held back: the key closes, no line.
    assert.equal(lines.length, 4);
    assert.equal(log.size, 0);
    assert.equal(time.pendingTimers, 0);
    log.log('k', { reason: 'timeout' }, 'x');
    assert.equal(lines.length, 5, 'the next event is logged at once again');
  });

  it('flush reports what is pending and stops the timers', () => {
    const { time, lines, log } = setup();
    log.log('k', {}, 'x');
    log.log('k', {}, 'x');
    log.flush();
    assert.equal(lines[1].fields.suppressed, 1);
    assert.equal(time.pendingTimers, 0);
  });

  it('bounds the keys it tracks: beyond, events share one overflow key', () => {
    const time = fakeClock();
    const lines: Line[] = [];
    const log = new ThrottledLog((fields, message) => lines.push({ fields, message }), {
      intervalMs: 1000,
      schedule: time.schedule,
      maxKeys: 3,
    });
    for (let i = 0; i < 100; i++) log.log(`k${i}`, { i }, 'x');
    assert.equal(lines.length, 4, 'three keys and the overflow key');
    assert.equal(log.size, 4);
  });

  it("with real timers (unref'd), the summary arrives when the interval ends", async () => {
    const lines: Line[] = [];
    const log = new ThrottledLog((fields, message) => lines.push({ fields, message }), { intervalMs: 30 });
    log.log('k', { reason: 'r' }, 'x');
    log.log('k', { reason: 'r' }, 'x');
    const deadline = Date.now() + 5000;
    while (lines.length < 2 && Date.now() < deadline) await sleep(10);
    assert.equal(lines[1]?.fields.suppressed, 1);
    log.flush();
  });
});
