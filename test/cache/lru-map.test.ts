import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LruMap } from '../../src/cache/lru-map.ts';

test('past its bound the least recently used entry goes; a read makes an entry recent', () => {
  const lru = new LruMap<string, number>(3);
  lru.set('a', 1);
  lru.set('b', 2);
  lru.set('c', 3);
  assert.equal(lru.get('a'), 1); // a is now the most recent; b the least
  lru.set('d', 4);
  assert.equal(lru.size, 3);
  assert.equal(lru.get('b'), undefined);
  assert.deepEqual(
    ['a', 'c', 'd'].map((key) => lru.get(key)),
    [1, 3, 4],
  );
  // Overwriting an entry neither grows the map nor evicts another.
  lru.set('c', 30);
  assert.equal(lru.size, 3);
  assert.equal(lru.get('c'), 30);
  assert.equal(lru.get('a'), 1);
});

test('deleteWhere drops matching entries; delete and clear work; a bound below 1 is refused', () => {
  const lru = new LruMap<string, number>(10);
  for (let i = 0; i < 6; i++) lru.set(`k${i}`, i);
  assert.equal(
    lru.deleteWhere((value) => value % 2 === 0),
    true,
  );
  assert.equal(lru.size, 3);
  assert.equal(
    lru.deleteWhere(() => false),
    false,
  );
  assert.equal(lru.delete('k1'), true);
  assert.equal(lru.delete('k1'), false);
  lru.clear();
  assert.equal(lru.size, 0);
  assert.throws(() => new LruMap(0), RangeError);
});

test('a million-entry bound holds a flood at the bound, oldest first', () => {
  const lru = new LruMap<number, number>(1000);
  for (let i = 0; i < 100_000; i++) lru.set(i, i);
  assert.equal(lru.size, 1000);
  assert.equal(lru.get(98_999), undefined);
  assert.equal(lru.get(99_000), 99_000);
});
