// The snapshot holder's reference counting: what a reload replaced is retired only
// when no request pinned to that snapshot, or to any older one, is left.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Runtime } from '../../src/runtime/build.ts';
import { RuntimeHolder } from '../../src/runtime/holder.ts';

const snapshot = (name: string) => ({ name }) as unknown as Runtime;

test('a snapshot with no pins is retired at the swap', () => {
  const holder = new RuntimeHolder();
  const retired: string[] = [];
  holder.swap(snapshot('a'), () => retired.push('nothing before a'));
  assert.deepEqual(retired, ['nothing before a']);
  holder.swap(snapshot('b'), () => retired.push('a'));
  assert.deepEqual(retired, ['nothing before a', 'a']);
  assert.equal(holder.retiringCount, 0);
});

test('a pinned snapshot is retired when its last pin is released', () => {
  const a = snapshot('a');
  const holder = new RuntimeHolder(a);
  const retired: string[] = [];
  const first = holder.pin();
  const second = holder.pin();
  assert.equal(first, a);
  holder.swap(snapshot('b'), () => retired.push('a'));
  assert.equal(holder.current, holder.pin(), 'new requests pin the new snapshot');
  holder.release(first);
  assert.deepEqual(retired, [], 'one request still holds a');
  holder.release(second);
  assert.deepEqual(retired, ['a']);
  assert.equal(holder.retiringCount, 0);
});

test('retirement waits for every older snapshot: a replaced component may be shared by all of them', () => {
  const holder = new RuntimeHolder(snapshot('a'));
  const retired: string[] = [];
  const onA = holder.pin();
  holder.swap(snapshot('b'), () => retired.push('what b replaced'));
  const onB = holder.pin();
  holder.swap(snapshot('c'), () => retired.push('what c replaced'));
  holder.release(onB);
  assert.deepEqual(retired, [], 'b is free, but a still runs and may use what c replaced');
  holder.release(onA);
  assert.deepEqual(retired, ['what b replaced', 'what c replaced']);
});

test('a snapshot swapped in and out with no request retires in order behind a pinned one', () => {
  const holder = new RuntimeHolder(snapshot('a'));
  const retired: string[] = [];
  const onA = holder.pin();
  holder.swap(snapshot('b'), () => retired.push('1'));
  holder.swap(snapshot('c'), () => retired.push('2'));
  holder.swap(snapshot('d'), () => retired.push('3'));
  assert.equal(holder.retiringCount, 3);
  holder.release(onA);
  assert.deepEqual(retired, ['1', '2', '3']);
});

test('retireAll runs what is left (shutdown after the deadline cut requests)', () => {
  const holder = new RuntimeHolder(snapshot('a'));
  const retired: string[] = [];
  holder.pin();
  holder.swap(snapshot('b'), () => retired.push('a'));
  holder.retireAll();
  assert.deepEqual(retired, ['a']);
  assert.equal(holder.retiringCount, 0);
});
