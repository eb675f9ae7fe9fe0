// Runs the real CLI (`src/cli.ts`) as a child process on the pinned Node.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI to its exit; `input`, when given, is written to its stdin, which is then closed. */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  input?: string,
): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, ...env },
    stdio: 'pipe',
  });
  if (input !== undefined) child.stdin.end(input);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/**
 * Writes `name` in `dir` for `gatehouse start`: both listeners on 127.0.0.1 and free ports,
 * a one-second drain, the service `api` at `upstreamUrl`; `config` adds or replaces keys.
 */
export async function writeCliConfig(
  dir: string,
  name: string,
  upstreamUrl: string,
  config: Record<string, unknown>,
): Promise<string> {
  const file = join(dir, name);
  await writeFile(
    file,
    stringify({
      server: { host: '127.0.0.1', port: 0, shutdown_timeout: '1s' },
      admin: { host: '127.0.0.1', port: 0 },
      services: { api: { url: upstreamUrl } },
      ...config,
    }),
  );
  return file;
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
