import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration, parseSize } from '../../src/config/units.ts';

test('durations', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  for (const bad of ['30', '', 's', '-1s', '1 s', '1d', '1sec'])
    assert.equal(parseDuration(bad), undefined, bad);
});

test('sizes use 1kb = 1024 bytes', () => {
  assert.equal(parseSize('512b'), 512);
  assert.equal(parseSize('64kb'), 65_536);
  assert.equal(parseSize('10mb'), 10 * 1024 * 1024);
  assert.equal(parseSize('1GB'), 1024 ** 3);
  for (const bad of ['10', 'mb', '10 mb', '10m', '-1kb']) assert.equal(parseSize(bad), undefined, bad);
});
