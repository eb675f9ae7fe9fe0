// Turns the rows into the printed table and .bench/last.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import type { LoadResult } from './load.ts';

/** One measured run of one row. */
export interface Measurement extends LoadResult {
  rssMb?: number;
  /** CPU used by the process under test, in % of one core, over the measured run. */
  cpuPercent?: number;
  /** 1-minute load average right after the run: a high one flags a disturbed run. */
  load1: number;
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
}

export interface RunInfo {
  date: string;
  node: string;
  cpus: string;
  connections: number;
  durationS: number;
  warmupS: number;
  rounds: number;
  loadBefore: number;
  loadAfter?: number;
}

/** The round with the median req/s, whole (its latencies belong with its throughput). */
export function median(runs: Measurement[]): Measurement & { rounds?: number[] } {
  const sorted = [...runs].sort((a, b) => a.reqPerSec - b.reqPerSec);
  const middle = sorted[Math.floor((sorted.length - 1) / 2)];
  return runs.length > 1 ? { ...middle, rounds: runs.map((run) => run.reqPerSec) } : middle;
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
  ['RSS MB', (r) => fmt(r.rssMb, 0)],
  ['CPU %', (r) => fmt(r.cpuPercent, 0)],
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

export function table(rows: RowResult[]): string {
  const nameWidth = Math.max(8, ...rows.map((r) => r.name.length));
  const head = ['scenario'.padEnd(nameWidth), ...COLUMNS.map(([title]) => title.padStart(8))].join('  ');
  const lines = rows.map((row) =>
    row.error
      ? `${row.name.padEnd(nameWidth)}  FAILED: ${row.error}`
      : [row.name.padEnd(nameWidth), ...COLUMNS.map(([, cell]) => cell(row).padStart(8))].join('  '),
  );
  return [head, ...lines].join('\n');
}

/** The same table in Markdown, ready to paste into docs/PERFORMANCE.md. */
export function markdown(rows: RowResult[]): string {
  const head = `| scenario | ${COLUMNS.map(([title]) => title).join(' | ')} |`;
  const rule = `| --- | ${COLUMNS.map(() => '---:').join(' | ')} |`;
  const lines = rows.map((row) =>
    row.error
      ? `| ${row.name} | failed: ${row.error.replaceAll('|', '/')} |`
      : `| ${row.name} | ${COLUMNS.map(([, cell]) => cell(row)).join(' | ')} |`,
  );
  return [head, rule, ...lines].join('\n');
}

export function writeJson(file: string, info: RunInfo, rows: RowResult[]): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ ...info, rows }, null, 2)}\n`);
}
