// One autocannon run, in its own process: a loader sharing the event loop of the
// orchestrator (or of a server) would measure itself.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { track } from './children.ts';

const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

export interface LoadOptions {
  url: string;
  connections: number;
  durationS: number;
  headers: Record<string, string>;
}

export interface LoadResult {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Socket errors, timeouts and non-2xx answers: a row with any is suspect. */
  errors: number;
}

// The part of autocannon's --json output the bench reads.
interface AutocannonJson {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const args = [AUTOCANNON, '--json', '--no-progress'];
  args.push('-c', String(options.connections), '-d', String(options.durationS));
  for (const [name, value] of Object.entries(options.headers)) args.push('-H', `${name}=${value}`);
  args.push(options.url);

  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const tracked = track('autocannon', child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  await tracked.exited;
  if (child.exitCode !== 0)
    throw new Error(`autocannon failed (${child.exitCode ?? child.signalCode}): ${stderr.trim()}`);

  const json = JSON.parse(stdout) as AutocannonJson;
  return {
    reqPerSec: json.requests.average,
    p50Ms: json.latency.p50,
    p99Ms: json.latency.p99,
    requests: json.requests.total,
    errors: json.errors + json.timeouts + json.non2xx,
  };
}
