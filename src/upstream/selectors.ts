// Load-balancing policies. Each is a tiny object with one method that picks among the
// candidates the service pool found available for this request. Selectors are built
// per runtime snapshot and only see `weight` and `inFlight`, so they can be tested on
// plain objects. The candidate array is a scratch buffer: never keep a reference to it.

export interface Pickable {
  readonly weight: number;
  readonly inFlight: number;
}

export interface Selector<T extends Pickable> {
  pick(candidates: readonly T[]): T | undefined;
}

export type LoadBalancing = 'round_robin' | 'weighted' | 'least_connections';

export function createSelector<T extends Pickable>(policy: LoadBalancing): Selector<T> {
  switch (policy) {
    case 'round_robin':
      return new RoundRobin<T>();
    case 'weighted':
      return new SmoothWeighted<T>();
    case 'least_connections':
      return new LeastConnections<T>();
  }
}

/** Kept well inside the integers a double holds exactly; wrapping only skews one pick. */
const COUNTER_WRAP = 2 ** 31;

export class RoundRobin<T extends Pickable> implements Selector<T> {
  #next = 0;

  pick(candidates: readonly T[]): T | undefined {
    if (candidates.length === 0) return undefined;
    const chosen = candidates[this.#next % candidates.length];
    this.#next = (this.#next + 1) % COUNTER_WRAP;
    return chosen;
  }
}

/**
 * nginx's smooth weighted round robin: every pick adds each candidate's weight to its
 * running score, takes the highest and takes the total off the winner. Weights 5:1:1
 * give a a b a c a a rather than a a a a a b c, so no instance gets a burst.
 * Scores live in a WeakMap so instances that discovery drops are forgotten with them.
 */
export class SmoothWeighted<T extends Pickable> implements Selector<T> {
  readonly #current = new WeakMap<T, number>();

  pick(candidates: readonly T[]): T | undefined {
    let best: T | undefined;
    let bestScore = -Infinity;
    let total = 0;
    for (const candidate of candidates) {
      const score = (this.#current.get(candidate) ?? 0) + candidate.weight;
      this.#current.set(candidate, score);
      total += candidate.weight;
      if (score > bestScore) {
        best = candidate;
        bestScore = score;
      }
    }
    if (best !== undefined) this.#current.set(best, bestScore - total);
    return best;
  }
}

/**
 * Fewest requests in flight. Ties (typically all at 0 under light load) take turns:
 * the n-th pick goes to the (n mod ties)-th tied instance, so no instance is favoured
 * for its position in the list.
 */
export class LeastConnections<T extends Pickable> implements Selector<T> {
  #turn = 0;

  pick(candidates: readonly T[]): T | undefined {
    if (candidates.length === 0) return undefined;
    let fewest = Infinity;
    let ties = 0;
    for (const candidate of candidates) {
      if (candidate.inFlight < fewest) {
        fewest = candidate.inFlight;
        ties = 1;
      } else if (candidate.inFlight === fewest) {
        ties++;
      }
    }
    let skip = this.#turn % ties;
    this.#turn = (this.#turn + 1) % COUNTER_WRAP;
    for (const candidate of candidates) {
      if (candidate.inFlight === fewest && skip-- === 0) return candidate;
    }
    return undefined;
  }
}
