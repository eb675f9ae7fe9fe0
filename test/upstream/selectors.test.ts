import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSelector, type Pickable } from '../../src/upstream/selectors.ts';

interface Host extends Pickable {
  name: string;
  weight: number;
  inFlight: number;
}

const host = (name: string, weight = 1, inFlight = 0): Host => ({ name, weight, inFlight });

function tally(hosts: readonly Host[], picks: readonly Host[]): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(hosts.map((h) => [h.name, 0]));
  for (const picked of picks) counts[picked.name]++;
  return counts;
}

function longestRun(picks: readonly Host[], name: string): number {
  let longest = 0;
  let run = 0;
  for (const picked of picks) {
    run = picked.name === name ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}

describe('round_robin', () => {
  it('splits evenly and in order', () => {
    const hosts = [host('a'), host('b'), host('c')];
    const selector = createSelector<Host>('round_robin');
    const picks = Array.from({ length: 300 }, () => selector.pick(hosts)!);
    assert.deepEqual(tally(hosts, picks), { a: 100, b: 100, c: 100 });
    assert.deepEqual(
      picks.slice(0, 6).map((h) => h.name),
      ['a', 'b', 'c', 'a', 'b', 'c'],
    );
  });

  it('returns undefined for no candidates', () => {
    assert.equal(createSelector<Host>('round_robin').pick([]), undefined);
  });
});

describe('weighted (smooth weighted round robin)', () => {
  it('follows 3:1 within a few percent', () => {
    const hosts = [host('a', 3), host('b', 1)];
    const selector = createSelector<Host>('weighted');
    const picks = Array.from({ length: 400 }, () => selector.pick(hosts)!);
    const counts = tally(hosts, picks);
    assert.ok(Math.abs(counts.a / 400 - 0.75) < 0.03, JSON.stringify(counts));
  });

  it('interleaves instead of sending bursts', () => {
    const hosts = [host('a', 5), host('b', 1), host('c', 1)];
    const selector = createSelector<Host>('weighted');
    const picks = Array.from({ length: 7 }, () => selector.pick(hosts)!.name);
    assert.deepEqual(picks, ['a', 'a', 'b', 'a', 'c', 'a', 'a'], "nginx's sequence for 5:1:1");
    const many = Array.from({ length: 700 }, () => selector.pick(hosts)!);
    assert.ok(longestRun(many, 'a') <= 4, 'never more of a in a row than the cycle needs');
    assert.equal(longestRun(many, 'b'), 1);
  });

  it('runs of the heavy instance stay at most ceil(weight ratio) for 3:1', () => {
    const hosts = [host('a', 3), host('b', 1)];
    const selector = createSelector<Host>('weighted');
    const picks = Array.from({ length: 400 }, () => selector.pick(hosts)!);
    assert.ok(longestRun(picks, 'a') <= 3);
    assert.equal(longestRun(picks, 'b'), 1);
  });

  it('shares among whoever is a candidate when the set changes', () => {
    const [a, b, c] = [host('a', 1), host('b', 1), host('c', 2)];
    const selector = createSelector<Host>('weighted');
    const picks = Array.from({ length: 100 }, () => selector.pick([a, b])!);
    assert.deepEqual(tally([a, b], picks), { a: 50, b: 50 });
    const after = Array.from({ length: 400 }, () => selector.pick([a, b, c])!);
    const counts = tally([a, b, c], after);
    assert.ok(Math.abs(counts.c - 200) <= 4, JSON.stringify(counts));
  });
});

describe('least_connections', () => {
  it('prefers the instance with the fewest requests in flight', () => {
    const hosts = [host('a', 1, 5), host('b', 1, 2), host('c', 1, 7)];
    const selector = createSelector<Host>('least_connections');
    for (let i = 0; i < 10; i++) assert.equal(selector.pick(hosts)!.name, 'b');
  });

  it('breaks ties fairly', () => {
    const hosts = [host('a', 1, 1), host('b'), host('c'), host('d')];
    const selector = createSelector<Host>('least_connections');
    const picks = Array.from({ length: 300 }, () => selector.pick(hosts)!);
    assert.deepEqual(tally(hosts, picks), { a: 0, b: 100, c: 100, d: 100 });
  });

  it('spreads concurrent requests when each pick adds one in flight', () => {
    const hosts = [host('a'), host('b'), host('c')];
    const selector = createSelector<Host>('least_connections');
    for (let i = 0; i < 9; i++) selector.pick(hosts)!.inFlight++;
    assert.deepEqual(
      hosts.map((h) => h.inFlight),
      [3, 3, 3],
    );
  });
});
