// Turns the rows into the printed table and .bench/last.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import { rssMb } from './children.ts';
import type { FixedRateLoad } from './fixed-rate-run.ts';
import type { LoadResult } from './load.ts';

export interface FixedRateResult extends FixedRateLoad {
  /** Peak RSS of the process under test during the measured phase. */
  rssMb?: number;
  /** p99 of every round at this rate, in order, when there were several. */
  p99Rounds?: number[];
}

/** One measured run of one row. */
export interface Measurement extends LoadResult {
  /** From spawning the process to its first 200 on the ready URL. */
  readyMs?: number;
  /** RSS once ready, before any load. */
  idleRssMb?: number;
  /** Peak RSS during the saturation run. */
  rssMb?: number;
  /** CPU used by the process under test, in % of one core, over the measured run. */
  cpuPercent?: number;
  /** CPU time of the process under test (every thread) per request answered: robust to other load. */
  cpuUsPerRequest?: number;
  fixedRate?: FixedRateResult[];
  /** 1-minute load average right after the run: a high one flags a disturbed run. */
  load1: number;
}

/** Samples a process's RSS every 250 ms until stopped; stop() answers the peak. */
export class RssSampler {
  readonly #pid: number;
  readonly #timer: NodeJS.Timeout;
  #peak: number | undefined;

  constructor(pid: number) {
    this.#pid = pid;
    this.#timer = setInterval(() => this.#sample(), 250);
  }

  #sample(): void {
    const rss = rssMb(this.#pid);
    if (rss !== undefined && (this.#peak === undefined || rss > this.#peak)) this.#peak = rss;
  }

  stop(): number | undefined {
    clearInterval(this.#timer);
    this.#sample();
    return this.#peak;
  }
}

export interface RowResult extends Partial<Measurement> {
  name: string;
  what: string;
  baseline: boolean;
  /** req/s of every round, in order, when there were several. */
  rounds?: number[];
  /** req/s as a % of the baseline row's. */
  vsBaseline?: number;
  error?: string;
  /** Why the row did not run (a program it needs is not installed). */
  skipped?: string;
}

export interface RunInfo {
  date: string;
  node: string;
  cpus: string;
  connections: number;
  durationS: number;
  warmupS: number;
  rounds: number;
  loader: string;
  pinning: string;
  /** req/s of the fixed-rate runs. */
  rates: number[];
  /** Seconds at the first rate before the fixed-rate runs (0: a cold process). */
  rateWarmupS: number;
  /** The gateway rows' malloc. */
  allocator: string;
  loadBefore: number;
  loadAfter?: number;
}

/**
 * The round with the median req/s, whole (its latencies belong with its throughput);
 * and at each fixed rate, the round with the median p99. A fixed-rate run is its own
 * measurement, not the saturation run's: one outside stall in one round's 5 s window
 * would otherwise be the row's p99 whenever that round happened to have the median req/s.
 */
export function median(runs: Measurement[]): Measurement & { rounds?: number[] } {
  const middle = middleOf(runs, (run) => run.reqPerSec);
  if (runs.length === 1) return middle;
  const fixedRate = middle.fixedRate?.map(({ rate }) => {
    const atRate = runs.flatMap((run) => run.fixedRate?.filter((result) => result.rate === rate) ?? []);
    return { ...middleOf(atRate, (result) => result.p99Ms), p99Rounds: atRate.map((result) => result.p99Ms) };
  });
  return { ...middle, fixedRate, rounds: runs.map((run) => run.reqPerSec) };
}

function middleOf<T>(items: T[], value: (item: T) => number): T {
  const sorted = [...items].sort((a, b) => value(a) - value(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

export function compareToBaseline(rows: RowResult[]): void {
  const base = rows.find((row) => row.baseline)?.reqPerSec;
  if (!base) return;
  for (const row of rows) if (row.reqPerSec !== undefined) row.vsBaseline = (100 * row.reqPerSec) / base;
}

const COLUMNS: Array<[string, (row: RowResult) => string]> = [
  ['req/s', (r) => fmt(r.reqPerSec, 0)],
  ['p50 ms', (r) => fmt(r.p50Ms, 0)],
  ['p99 ms', (r) => fmt(r.p99Ms, 0)],
  ['errors', (r) => fmt(r.errors, 0)],
  ['ready ms', (r) => fmt(r.readyMs, 0)],
  ['idle MB', (r) => fmt(r.idleRssMb, 0)],
  ['RSS MB', (r) => fmt(r.rssMb, 0)],
  ['CPU %', (r) => fmt(r.cpuPercent, 0)],
  ['CPU µs/req', (r) => fmt(r.cpuUsPerRequest, 1)],
  ['spread', (r) => spread(r)],
  ['vs bare', (r) => (r.vsBaseline === undefined ? '' : `${r.vsBaseline.toFixed(0)}%`)],
];

/** (max - min) / median of the rounds' req/s: how much to trust the row. */
function spread(row: RowResult): string {
  if (!row.rounds || !row.reqPerSec) return '-';
  return `${((100 * (Math.max(...row.rounds) - Math.min(...row.rounds))) / row.reqPerSec).toFixed(0)}%`;
}

function fmt(value: number | undefined, digits: number): string {
  return value === undefined ? '-' : value.toFixed(digits);
}

type Column<T> = [string, (row: T) => string];

function textTable<T extends { name: string }>(
  columns: Column<T>[],
  rows: T[],
  special: (row: T) => string | undefined,
): string {
  const nameWidth = Math.max(8, ...rows.map((r) => r.name.length));
  const width = Math.max(8, ...columns.map(([title]) => title.length));
  const head = ['scenario'.padEnd(nameWidth), ...columns.map(([title]) => title.padStart(width))].join('  ');
  const lines = rows.map((row) => {
    const note = special(row);
    return note !== undefined
      ? `${row.name.padEnd(nameWidth)}  ${note}`
      : [row.name.padEnd(nameWidth), ...columns.map(([, cell]) => cell(row).padStart(width))].join('  ');
  });
  return [head, ...lines].join('\n');
}

function markdownTable<T extends { name: string }>(
  columns: Column<T>[],
  rows: T[],
  special: (row: T) => string | undefined,
): string {
  const head = `| scenario | ${columns.map(([title]) => title).join(' | ')} |`;
  const rule = `| --- | ${columns.map(() => '---:').join(' | ')} |`;
  const lines = rows.map((row) => {
    const note = special(row);
    return note !== undefined
      ? `| ${row.name} | ${note.replaceAll('|', '/')} |`
      : `| ${row.name} | ${columns.map(([, cell]) => cell(row)).join(' | ')} |`;
  });
  return [head, rule, ...lines].join('\n');
}

const noteOf = (row: RowResult): string | undefined =>
  row.error ? `FAILED: ${row.error}` : row.skipped ? `skipped: ${row.skipped}` : undefined;

export function table(rows: RowResult[]): string {
  return textTable(COLUMNS, rows, noteOf);
}

/** The same table in Markdown, ready to paste into docs/PERFORMANCE.md. */
export function markdown(rows: RowResult[]): string {
  return markdownTable(COLUMNS, rows, noteOf);
}

/** One line per row and rate of the fixed-rate mode; `overDirect` compares p99 with the direct upstream's at that rate. */
interface FixedRateLine extends FixedRateResult {
  name: string;
  p99OverDirectMs?: number;
}

const FIXED_RATE_COLUMNS: Column<FixedRateLine>[] = [
  ['req/s asked', (r) => fmt(r.rate, 0)],
  ['req/s done', (r) => fmt(r.achieved, 0)],
  ['p50 ms', (r) => fmt(r.p50Ms, 2)],
  ['p99 ms', (r) => fmt(r.p99Ms, 2)],
  ['p99.9 ms', (r) => fmt(r.p999Ms, 2)],
  ['max ms', (r) => fmt(r.maxMs, 1)],
  ['errors', (r) => fmt(r.errors, 0)],
  ['RSS MB', (r) => fmt(r.rssMb, 0)],
  ['p99 of the rounds', (r) => (r.p99Rounds ? r.p99Rounds.map((p99) => p99.toFixed(2)).join(' / ') : '-')],
  [
    'p99 vs direct',
    (r) =>
      r.p99OverDirectMs === undefined
        ? ''
        : `${r.p99OverDirectMs >= 0 ? '+' : ''}${r.p99OverDirectMs.toFixed(2)} ms`,
  ],
];

function fixedRateLines(rows: RowResult[]): FixedRateLine[] {
  const direct = rows.find((row) => row.name === 'upstream (direct)')?.fixedRate ?? [];
  return rows.flatMap((row) =>
    (row.fixedRate ?? []).map((result) => {
      const base = direct.find((d) => d.rate === result.rate);
      return {
        ...result,
        name: row.name,
        p99OverDirectMs: base && row.name !== 'upstream (direct)' ? result.p99Ms - base.p99Ms : undefined,
      };
    }),
  );
}

export function fixedRateTable(rows: RowResult[]): string | undefined {
  const lines = fixedRateLines(rows);
  return lines.length === 0 ? undefined : textTable(FIXED_RATE_COLUMNS, lines, () => undefined);
}

export function fixedRateMarkdown(rows: RowResult[]): string {
  const lines = fixedRateLines(rows);
  return lines.length === 0 ? '' : markdownTable(FIXED_RATE_COLUMNS, lines, () => undefined);
}

export function writeJson(file: string, info: RunInfo, rows: RowResult[]): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ ...info, rows }, null, 2)}\n`);
}
