// The last reloads, for the dashboard: when, whether they applied, what changed, and
// why not when they failed. Bounded: the oldest entry leaves when a new one arrives.
import type { Config } from '../config/schema.ts';

export interface ReloadRecord {
  /** Epoch ms. */
  readonly at: number;
  readonly ok: boolean;
  /** What the new config changed, in words ("route /api/v2 added"); empty when nothing did. */
  readonly changes: readonly string[];
  readonly errors?: readonly string[];
  readonly restartRequired?: readonly string[];
}

const KEPT = 10;

export class ReloadHistory {
  readonly #records: ReloadRecord[] = [];
  readonly #clock: () => number;

  constructor(clock: () => number = Date.now) {
    this.#clock = clock;
  }

  succeeded(previous: Config, next: Config, restartRequired: readonly string[]): void {
    this.#add({ at: this.#clock(), ok: true, changes: describeChanges(previous, next), restartRequired });
  }

  failed(errors: readonly string[]): void {
    this.#add({ at: this.#clock(), ok: false, changes: [], errors });
  }

  /** Newest first. */
  list(): readonly ReloadRecord[] {
    return [...this.#records].reverse();
  }

  #add(record: ReloadRecord): void {
    this.#records.push(record);
    if (this.#records.length > KEPT) this.#records.shift();
  }
}

/** Routes and services added, removed or changed, and any other top-level section changed. */
export function describeChanges(previous: Config, next: Config): string[] {
  const changes: string[] = [];
  const routeKey = (route: Config['routes'][number]) => `${route.host ? `${route.host} ` : ''}${route.path}`;
  diffNamed(
    'route',
    new Map(previous.routes.map((route) => [routeKey(route), route])),
    new Map(next.routes.map((route) => [routeKey(route), route])),
    changes,
  );
  diffNamed(
    'service',
    new Map(Object.entries(previous.services)),
    new Map(Object.entries(next.services)),
    changes,
  );
  for (const key of Object.keys({ ...previous, ...next }) as (keyof Config)[]) {
    if (key === 'routes' || key === 'services') continue;
    const before = JSON.stringify(previous[key]);
    const after = JSON.stringify(next[key]);
    if (before === after) continue;
    changes.push(
      before === undefined ? `${key} added` : after === undefined ? `${key} removed` : `${key} changed`,
    );
  }
  return changes;
}

function diffNamed(
  kind: string,
  before: Map<string, unknown>,
  after: Map<string, unknown>,
  out: string[],
): void {
  for (const [name, value] of after) {
    if (!before.has(name)) out.push(`${kind} ${name} added`);
    else if (JSON.stringify(before.get(name)) !== JSON.stringify(value)) out.push(`${kind} ${name} changed`);
  }
  for (const name of before.keys()) if (!after.has(name)) out.push(`${kind} ${name} removed`);
}
