// Every process the bench starts goes through here, so teardown (end of run, error,
// Ctrl-C) can reach all of them. Children get their own process group: a terminal
// Ctrl-C reaches only the orchestrator, which stops them in order.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

const live = new Set<ChildProcess>();

export interface Child {
  name: string;
  process: ChildProcess;
  exited: Promise<void>;
  /** True once it exited or failed to spawn (then exitCode stays null). */
  readonly gone: boolean;
}

/** Registers a process for teardown. */
export function track(name: string, child: ChildProcess): Child {
  live.add(child);
  let gone = false;
  const exited = new Promise<void>((resolve) => {
    const done = () => {
      gone = true;
      live.delete(child);
      resolve();
    };
    child.once('exit', done);
    child.once('error', done);
  });
  return {
    name,
    process: child,
    exited,
    get gone() {
      return gone;
    },
  };
}

/** Starts a program with its stdout and stderr written to logFile. */
export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: { env?: Record<string, string>; logFile: string; cwd?: string },
): Child {
  const log = openSync(options.logFile, 'w');
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log); // the child holds its own copy
  return track(name, child);
}

/** Starts `node <args>` with the pinned Node that runs the bench. */
export function startNode(
  name: string,
  args: string[],
  options: { env?: Record<string, string>; logFile: string; cwd?: string },
): Child {
  return startProcess(name, process.execPath, args, options);
}

export function isRunning(child: Child): boolean {
  return !child.gone;
}

/** SIGTERM, then SIGKILL after graceMs (the gateway drains; the others exit at once). */
export async function stop(child: Child, graceMs = 5000): Promise<void> {
  if (!isRunning(child)) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

export async function stopAll(graceMs = 5000): Promise<void> {
  await Promise.all(
    [...live].map((process) => {
      process.kill('SIGTERM');
      const timer = setTimeout(() => process.kill('SIGKILL'), graceMs);
      return new Promise<void>((resolve) => process.once('exit', () => resolve(clearTimeout(timer))));
    }),
  );
}

// Last resort when the orchestrator dies without running its teardown.
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Resident memory of a process in MB (Linux /proc), undefined elsewhere. */
export function rssMb(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used so far (Linux /proc), undefined elsewhere. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    // Fields after the ")" closing the command name; utime and stime are fields 14 and 15.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const USER_HZ = 100; // the Linux ABI value of clock ticks per second
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return undefined;
  }
}
