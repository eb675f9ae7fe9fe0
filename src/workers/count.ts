// server.workers -> how many worker threads serve the public port, and what the
// supervisor exposes about them.
import { availableParallelism } from 'node:os';

/** `auto`: one per core this process may use (cgroup and affinity limits included). */
export function resolveWorkerCount(workers: number | 'auto'): number {
  return workers === 'auto' ? availableParallelism() : workers;
}

export interface WorkerInfo {
  /** Position 0..N-1; a replacement takes the position of the worker it replaces. */
  readonly index: number;
  readonly threadId: number;
  /** Times the worker at this position was replaced after it died. */
  readonly restarts: number;
}

export interface WorkerControl {
  list(): readonly WorkerInfo[];
  /** Stops a worker thread abruptly, as a crash would: the supervisor replaces it. */
  terminate(index: number): Promise<void>;
}
