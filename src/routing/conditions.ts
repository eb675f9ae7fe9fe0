// A route's extra conditions (`match.headers`, `match.query`), compiled once into one
// predicate. Routes without conditions get none and the router never calls anything
// for them. The same compiled form answers, at config time, whether two routes could
// ever accept the same request (see `mayOverlap`).
import type { IncomingHttpHeaders } from 'node:http';

/** A configured expectation: an exact value, or only that the name is present. */
export type Expectation = string | { readonly present: true };

export interface MatchConfig {
  readonly headers?: Readonly<Record<string, Expectation>>;
  readonly query?: Readonly<Record<string, Expectation>>;
}

interface Check {
  readonly name: string;
  /** undefined: presence is enough. */
  readonly value: string | undefined;
}

export interface Conditions {
  /** How many conditions the route has: the tie-breaker between routes of one prefix. */
  readonly count: number;
  readonly headers: readonly Check[];
  readonly query: readonly Check[];
  /** `query` is the raw `?a=b` string, or ''. */
  test(headers: IncomingHttpHeaders, query: string): boolean;
}

/** null when the route has no conditions. */
export function compileConditions(match: MatchConfig | undefined): Conditions | null {
  const headers = checks(match?.headers, true);
  const query = checks(match?.query, false);
  const count = headers.length + query.length;
  if (count === 0) return null;
  const test = (requestHeaders: IncomingHttpHeaders, rawQuery: string): boolean => {
    for (const check of headers) {
      const actual = requestHeaders[check.name];
      if (actual === undefined) return false;
      if (check.value !== undefined && actual !== check.value) return false;
    }
    if (query.length === 0) return true;
    // Parsed only when a route asks about the query, and once for all its conditions.
    const params = new URLSearchParams(rawQuery);
    for (const check of query) {
      const actual = params.get(check.name);
      if (actual === null) return false;
      if (check.value !== undefined && actual !== check.value) return false;
    }
    return true;
  };
  return Object.freeze({ count, headers, query, test });
}

function checks(
  table: Readonly<Record<string, Expectation>> | undefined,
  lowerCaseNames: boolean,
): readonly Check[] {
  if (!table) return [];
  return Object.freeze(
    Object.entries(table).map(([name, expected]) =>
      Object.freeze({
        name: lowerCaseNames ? name.toLowerCase() : name,
        value: typeof expected === 'string' ? expected : undefined,
      }),
    ),
  );
}

/**
 * Could one request satisfy both condition sets? Only an exact value that contradicts
 * the other's exact value for the same name rules that out: presence is compatible
 * with any value, and a condition the other route lacks can always be met too.
 */
export function mayOverlap(a: Conditions | null, b: Conditions | null): boolean {
  if (a === null || b === null) return true;
  return !contradicts(a.headers, b.headers) && !contradicts(a.query, b.query);
}

function contradicts(a: readonly Check[], b: readonly Check[]): boolean {
  for (const mine of a) {
    if (mine.value === undefined) continue;
    for (const theirs of b) {
      if (theirs.name === mine.name && theirs.value !== undefined && theirs.value !== mine.value) return true;
    }
  }
  return false;
}

/**
 * The conditions of a route as written, for config checks that run before (or
 * despite) the rest of the validation: anything malformed counts as no condition,
 * its own key reports the problem.
 */
export function conditionsOf(match: unknown): Conditions | null {
  if (typeof match !== 'object' || match === null) return null;
  const { headers, query } = match as Record<string, unknown>;
  return compileConditions({ headers: wellFormed(headers), query: wellFormed(query) });
}

function wellFormed(table: unknown): Record<string, Expectation> | undefined {
  if (typeof table !== 'object' || table === null || Array.isArray(table)) return undefined;
  const out: Record<string, Expectation> = {};
  for (const [name, expected] of Object.entries(table)) {
    if (typeof expected === 'string') out[name] = expected;
    else if (typeof expected === 'object' && expected !== null) out[name] = { present: true };
  }
  return out;
}
