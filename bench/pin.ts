// Which cores each bench process may run on. With `taskset` and at least two cores, the
// process under test gets the last core to itself and the loader, the upstream and the
// side services share the others, so a proxy row measures one proxy core, as the
// published comparisons of Caddy, nginx and HAProxy do. A row that asks for every core
// (workers: N) gets them all and shares them with the loader: its figure says so.
// BENCH_PIN=0 turns pinning off.
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const cores = availableParallelism();
const enabled = process.env.BENCH_PIN !== '0' && cores >= 2 && hasTaskset();
const last = cores - 1;

export type Placement = 'under-test' | 'all' | 'others';

/** Human-readable summary for the run's header. */
export function pinningNote(): string {
  if (!enabled) {
    return process.env.BENCH_PIN === '0'
      ? 'no CPU pinning (BENCH_PIN=0)'
      : `no CPU pinning (${cores < 2 ? 'one core' : 'taskset not found'})`;
  }
  return `process under test pinned to core ${last}; loader, upstream and side services on ${last === 1 ? 'core 0' : `cores 0-${last - 1}`}`;
}

/** The core list for taskset -c, or undefined when pinning is off or the process may use every core. */
function coreList(placement: Placement): string | undefined {
  if (!enabled || placement === 'all') return undefined;
  if (placement === 'under-test') return String(last);
  return last === 1 ? '0' : `0-${last - 1}`;
}

/** Wraps a command so it runs on the cores of its placement: [command, args] to spawn. */
export function pinned(placement: Placement, command: string, args: string[]): [string, string[]] {
  const list = coreList(placement);
  return list === undefined ? [command, args] : ['taskset', ['-c', list, command, ...args]];
}

export const pinningEnabled = enabled;
