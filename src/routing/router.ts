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

  constructor(entries: readonly RouteEntry<T>[]) {
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
