// Longest-prefix routing on whole path segments, compiled once per config. A lookup
// walks the request path from its full length back to `/`, one segment at a time,
// with one map probe per step: cost grows with the path's depth, not the route count.
// Routes of one prefix that add conditions (match.headers / match.query) share a slot
// as a ranked candidate list; a plain route's slot holds the route itself, so routes
// without conditions pay one `instanceof` and nothing else.
import type { IncomingHttpHeaders } from 'node:http';
import type { Conditions } from './conditions.ts';

export interface RouteEntry<T> {
  /** Normalized prefix: no trailing slash except for `/` itself. */
  readonly prefix: string;
  readonly host: string | undefined;
  readonly value: T;
  /** Extra conditions; null or absent for a plain route. */
  readonly conditions?: Conditions | null;
}

export interface RouteMatch<T> {
  readonly value: T;
  readonly prefix: string;
}

/** One route as the explainer sees it: undefined `reason` for the one that matched. */
export interface RouteVerdict<T> {
  readonly value: T;
  readonly prefix: string;
  readonly host: string | undefined;
  readonly reason: string | undefined;
}

export interface RouteExplanation<T> {
  readonly match: RouteMatch<T> | undefined;
  /** Every route, in config order, with why it did not match. */
  readonly routes: readonly RouteVerdict<T>[];
}

export function normalizePrefix(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

/** The routes of one prefix when some have conditions: most conditions first, a plain route last. */
class Candidates<T> {
  readonly entries: { readonly value: T; readonly conditions: Conditions | null }[] = [];

  add(value: T, conditions: Conditions | null): void {
    this.entries.push({ value, conditions });
    this.entries.sort((a, b) => (b.conditions?.count ?? 0) - (a.conditions?.count ?? 0));
  }

  pick(headers: IncomingHttpHeaders, query: string): T | undefined {
    for (const entry of this.entries) {
      if (entry.conditions === null || entry.conditions.test(headers, query)) return entry.value;
    }
    return undefined;
  }
}

type Slot<T> = T | Candidates<T>;

const NO_HEADERS: IncomingHttpHeaders = Object.freeze({});

export class Router<T> {
  readonly #anyHost = new Map<string, Slot<T>>();
  readonly #exactHosts = new Map<string, Map<string, Slot<T>>>();
  /** `*.example.com` routes, keyed by `.example.com`. */
  readonly #wildcardHosts: [suffix: string, table: Map<string, Slot<T>>][] = [];

  /** Kept for explain(): the request path never walks it. */
  readonly #entries: readonly RouteEntry<T>[];

  constructor(entries: readonly RouteEntry<T>[]) {
    this.#entries = entries;
    for (const entry of entries) {
      const table = this.#tableFor(entry.host);
      const prefix = normalizePrefix(entry.prefix);
      const conditions = entry.conditions ?? null;
      const existing = table.get(prefix);
      if (existing === undefined && conditions === null) {
        table.set(prefix, entry.value);
        continue;
      }
      let candidates: Candidates<T>;
      if (existing instanceof Candidates) {
        candidates = existing;
      } else {
        candidates = new Candidates<T>();
        if (existing !== undefined) candidates.add(existing, null);
        table.set(prefix, candidates);
      }
      candidates.add(entry.value, conditions);
    }
    // Longer suffixes first, so *.api.example.com wins over *.example.com.
    this.#wildcardHosts.sort((a, b) => b[0].length - a[0].length);
  }

  /**
   * `host` is the request's Host without port, lower-cased; `headers` and `query` (the
   * raw `?…` string) are read only by routes with conditions.
   */
  match(
    host: string,
    path: string,
    headers: IncomingHttpHeaders = NO_HEADERS,
    query = '',
  ): RouteMatch<T> | undefined {
    if (this.#exactHosts.size > 0) {
      const table = this.#exactHosts.get(host);
      const found = table && lookup(table, path, headers, query);
      if (found) return found;
    }
    for (const [suffix, table] of this.#wildcardHosts) {
      if (host.endsWith(suffix) && host.length > suffix.length) {
        const found = lookup(table, path, headers, query);
        if (found) return found;
      }
    }
    return lookup(this.#anyHost, path, headers, query);
  }

  /**
   * What match() decides, and for every other route why it lost: its host differs, the
   * path is not under its prefix, a condition fails, or it fits too but the winner ranks
   * first (a host of its own, then the longer prefix, then more conditions). The winner
   * is match()'s own answer, so the explanation cannot drift from the routing.
   */
  explain(
    host: string,
    path: string,
    headers: IncomingHttpHeaders = NO_HEADERS,
    query = '',
  ): RouteExplanation<T> {
    const match = this.match(host, path, headers, query);
    const winner = match && this.#entries.find((entry) => entry.value === match.value);
    const routes = this.#entries.map((entry): RouteVerdict<T> => {
      const prefix = normalizePrefix(entry.prefix);
      const verdict = (reason: string | undefined) => ({
        value: entry.value,
        prefix,
        host: entry.host,
        reason,
      });
      if (entry.value === match?.value) return verdict(undefined);
      if (entry.host !== undefined && !hostMatches(entry.host.toLowerCase(), host)) {
        return verdict(`host "${host}" is not ${entry.host}`);
      }
      if (!isUnder(path, prefix)) return verdict(`path ${path} is not under ${prefix}`);
      const failed = entry.conditions ? failedCondition(entry.conditions, headers, query) : undefined;
      if (failed !== undefined) return verdict(failed);
      if (winner?.host !== undefined && entry.host === undefined) {
        return verdict(`the route for host ${winner.host} takes precedence over routes for any host`);
      }
      if (winner?.host?.startsWith('*.') === false && entry.host?.startsWith('*.')) {
        return verdict(`the route for exact host ${winner.host} takes precedence over wildcard hosts`);
      }
      const winnerPrefix = normalizePrefix(winner?.prefix ?? '/');
      if (winnerPrefix === prefix) return verdict('a route of the same prefix with more conditions matched');
      return verdict(`the longer prefix ${winnerPrefix} matched`);
    });
    return { match, routes };
  }

  #tableFor(host: string | undefined): Map<string, Slot<T>> {
    if (host === undefined) return this.#anyHost;
    const name = host.toLowerCase();
    if (name.startsWith('*.')) {
      const suffix = name.slice(1);
      let entry = this.#wildcardHosts.find(([s]) => s === suffix);
      if (!entry) {
        entry = [suffix, new Map()];
        this.#wildcardHosts.push(entry);
      }
      return entry[1];
    }
    let table = this.#exactHosts.get(name);
    if (!table) {
      table = new Map();
      this.#exactHosts.set(name, table);
    }
    return table;
  }
}

function hostMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === host;
  const suffix = pattern.slice(1);
  return host.endsWith(suffix) && host.length > suffix.length;
}

/** Whether `prefix` covers `path` on whole segments. */
function isUnder(path: string, prefix: string): boolean {
  return prefix === '/' || path === prefix || path.startsWith(`${prefix}/`);
}

/** The first of a route's conditions the request fails, in words; undefined when all hold. */
function failedCondition(
  conditions: Conditions,
  headers: IncomingHttpHeaders,
  query: string,
): string | undefined {
  for (const check of conditions.headers) {
    const actual = headers[check.name];
    if (actual === undefined) return `header ${check.name} is missing`;
    if (check.value !== undefined && actual !== check.value)
      return `header ${check.name} is not "${check.value}"`;
  }
  const params = new URLSearchParams(query);
  for (const check of conditions.query) {
    const actual = params.get(check.name);
    if (actual === null) return `query parameter ${check.name} is missing`;
    if (check.value !== undefined && actual !== check.value)
      return `query parameter ${check.name} is not "${check.value}"`;
  }
  return undefined;
}

function lookup<T>(
  table: Map<string, Slot<T>>,
  path: string,
  headers: IncomingHttpHeaders,
  query: string,
): RouteMatch<T> | undefined {
  if (table.size === 0) return undefined;
  let candidate = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  for (;;) {
    const slot = table.get(candidate);
    if (slot !== undefined) {
      // A prefix whose routes' conditions all fail falls back to shorter prefixes.
      const value = slot instanceof Candidates ? slot.pick(headers, query) : slot;
      if (value !== undefined) return { value, prefix: candidate };
    }
    if (candidate === '/') return undefined;
    const cut = candidate.lastIndexOf('/');
    candidate = cut <= 0 ? '/' : candidate.slice(0, cut);
  }
}
