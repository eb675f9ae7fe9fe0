#!/usr/bin/env node
// Entry point for `npx gatehouse`. It runs the JavaScript build (dist/, made by
// `npm run build` and shipped in the package) when there is one, else the TypeScript
// sources through Node's type stripping; Node 22.12-22.17 only has that behind a flag,
// so re-exec with it there.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
if (existsSync(built)) {
  await import(built);
} else if (process.features.typescript) {
  await import(cli);
} else {
  const run = spawnSync(process.execPath, ['--experimental-strip-types', '--no-warnings', cli, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(run.status ?? 1);
}
