// Longest-prefix routing on whole path segments, compiled once per config. A lookup
// walks the request path from its full length back to `/`, one segment at a time,
// with one map probe per step: cost grows with the path's depth, not the route count.

export interface RouteEntry<T> {
  /** Normalized prefix: no trailing slash except for `/` itself. */
  readonly prefix: string;
  readonly host: string | undefined;
  readonly value: T;
}

export interface RouteMatch<T> {
  readonly value: T;
  readonly prefix: string;
}

export function normalizePrefix(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

export class Router<T> {
  readonly #anyHost = new Map<string, T>();
  readonly #exactHosts = new Map<string, Map<string, T>>();
  /** `*.example.com` routes, keyed by `.example.com`. */
  readonly #wildcardHosts: [suffix: string, table: Map<string, T>][] = [];

  constructor(entries: readonly RouteEntry<T>[]) {
    for (const entry of entries) {
      this.#tableFor(entry.host).set(normalizePrefix(entry.prefix), entry.value);
    }
    // Longer suffixes first, so *.api.example.com wins over *.example.com.
    this.#wildcardHosts.sort((a, b) => b[0].length - a[0].length);
  }

  /** `host` is the request's Host without port, lower-cased. */
  match(host: string, path: string): RouteMatch<T> | undefined {
    if (this.#exactHosts.size > 0) {
      const table = this.#exactHosts.get(host);
      const found = table && lookup(table, path);
      if (found) return found;
    }
    for (const [suffix, table] of this.#wildcardHosts) {
      if (host.endsWith(suffix) && host.length > suffix.length) {
        const found = lookup(table, path);
        if (found) return found;
      }
    }
    return lookup(this.#anyHost, path);
  }

  #tableFor(host: string | undefined): Map<string, T> {
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

function lookup<T>(table: Map<string, T>, path: string): RouteMatch<T> | undefined {
  if (table.size === 0) return undefined;
  let candidate = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  for (;;) {
    const value = table.get(candidate);
    if (value !== undefined) return { value, prefix: candidate };
    if (candidate === '/') return undefined;
    const cut = candidate.lastIndexOf('/');
    candidate = cut <= 0 ? '/' : candidate.slice(0, cut);
  }
}
