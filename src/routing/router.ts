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

export class Router<T> {
  readonly #anyHost = new Map<string, T>();
  readonly #exactHosts = new Map<string, Map<string, T>>();
  /** `*.example.com` routes, keyed by `.example.com`. */
  readonly #wildcardHosts: [suffix: string, table: Map<string, T>][] = [];
  /** Kept for explain(): the request path never walks it. */
  readonly #entries: readonly RouteEntry<T>[];

  constructor(entries: readonly RouteEntry<T>[]) {
    this.#entries = entries;
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

  /**
   * What match() decides, and for every other route why it lost: its host differs, the
   * path is not under its prefix, or it fits too but the winner ranks first (a host of
   * its own, then the longer prefix). The winner is match()'s own answer, so the
   * explanation cannot drift from the routing.
   */
  explain(host: string, path: string): RouteExplanation<T> {
    const match = this.match(host, path);
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
      if (winner && winner.host !== undefined && entry.host === undefined) {
        return verdict(`the route for host ${winner.host} takes precedence over routes for any host`);
      }
      if (winner && winner.host?.startsWith('*.') === false && entry.host?.startsWith('*.')) {
        return verdict(`the route for exact host ${winner.host} takes precedence over wildcard hosts`);
      }
      return verdict(`the longer prefix ${normalizePrefix(winner?.prefix ?? '/')} matched`);
    });
    return { match, routes };
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

function hostMatches(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === host;
  const suffix = pattern.slice(1);
  return host.endsWith(suffix) && host.length > suffix.length;
}

/** Whether `prefix` covers `path` on whole segments. */
function isUnder(path: string, prefix: string): boolean {
  return prefix === '/' || path === prefix || path.startsWith(`${prefix}/`);
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
