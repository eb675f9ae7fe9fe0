// Runs bench/fixed-rate.ts (the open-loop loader) in its own process, on the loader's cores.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { track } from './children.ts';
import { pinned } from './pin.ts';

const SCRIPT = fileURLToPath(new URL('fixed-rate.ts', import.meta.url));

export interface FixedRateOptions {
  url: string;
  rate: number;
  durationS: number;
  warmupS: number;
  connections: number;
  headers: Record<string, string>;
}

export interface FixedRateLoad {
  rate: number;
  /** Requests answered per second of the measured phase: below `rate`, the target could not keep up. */
  achieved: number;
  requests: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export async function runFixedRate(options: FixedRateOptions): Promise<FixedRateLoad> {
  const [command, args] = pinned('others', process.execPath, [
    SCRIPT,
    options.url,
    String(options.rate),
    String(options.durationS),
    String(options.warmupS),
    String(options.connections),
    JSON.stringify(options.headers),
  ]);
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const tracked = track('fixed-rate loader', child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  await tracked.exited;
  if (child.exitCode !== 0) {
    throw new Error(`fixed-rate loader failed (${child.exitCode ?? child.signalCode}): ${stderr.trim()}`);
  }
  return JSON.parse(stdout) as FixedRateLoad;
}
