// Runs the real CLI (`src/cli.ts`) as a child process on the pinned Node.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: 'pipe',
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

export interface RunningGateway {
  readonly child: ChildProcess;
  readonly url: string;
  readonly adminUrl: string;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

/** Starts `gatehouse start` and resolves once its "gateway listening" line is logged. */
export async function startCliGateway(
  configFile: string,
  env: NodeJS.ProcessEnv = {},
): Promise<RunningGateway> {
  const child = spawn(process.execPath, [CLI, 'start', '--config', configFile], {
    env: { PATH: process.env.PATH, ...env },
    stdio: 'pipe',
  });
  let output = '';
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const listening = new Promise<{ url: string; admin_url: string }>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      for (const line of output.split('\n')) {
        if (line.includes('"gateway listening"')) resolve(JSON.parse(line));
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
    exited.then((code) => reject(new Error(`gateway exited with ${code}: ${output}`)));
  });
  const { url, admin_url } = await listening;
  return { child, url, adminUrl: admin_url, output: () => output, exited };
}
