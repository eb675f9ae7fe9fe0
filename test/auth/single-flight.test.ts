import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SingleFlight } from '../../src/auth/single-flight.ts';

test('concurrent callers of one key share one run; the key is free again after it settles', async () => {
  const flights = new SingleFlight<number>();
  let runs = 0;
  let release!: (value: number) => void;
  const work = () => {
    runs++;
    return new Promise<number>((resolve) => {
      release = resolve;
    });
  };
  const waiting = Array.from({ length: 20 }, () => flights.run('k', work));
  assert.equal(runs, 1);
  assert.equal(flights.size, 1);
  release(7);
  assert.deepEqual(await Promise.all(waiting), Array(20).fill(7));
  assert.equal(flights.size, 0);
  const next = flights.run('k', work);
  release(8);
  assert.equal(await next, 8);
  assert.equal(runs, 2);
});

test('a failure reaches every waiter once and is not replayed', async () => {
  const flights = new SingleFlight<number>();
  let runs = 0;
  const failing = async () => {
    runs++;
    throw new Error('down');
  };
  const results = await Promise.allSettled([flights.run('k', failing), flights.run('k', failing)]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  assert.equal(runs, 1);
  await assert.rejects(flights.run('k', failing));
  assert.equal(runs, 2);
  await flights.settled();
});
