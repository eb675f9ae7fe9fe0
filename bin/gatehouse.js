#!/usr/bin/env node
// Entry point for `npx gatehouse`. The sources are TypeScript run by Node's type
// stripping; Node 22.12-22.17 only has it behind a flag, so re-exec with it there.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
if (process.features.typescript) {
  await import(cli);
} else {
  const run = spawnSync(process.execPath, ['--experimental-strip-types', '--no-warnings', cli, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(run.status ?? 1);
}
