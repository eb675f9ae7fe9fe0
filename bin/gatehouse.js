#!/usr/bin/env node
// Entry point for `npx gatehouse`. An installed package (or the image) runs its
// JavaScript build (dist/, made by `npm run build`, shipped in the package); a git
// checkout runs its TypeScript sources through Node's type stripping, so what runs is
// never a build older than the code beside it. Node 22.12-22.17 only strips types
// behind a flag, so re-exec with it there.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const built = fileURLToPath(new URL('dist/cli.js', root));
const cli = fileURLToPath(new URL('src/cli.ts', root));
const checkout = existsSync(fileURLToPath(new URL('.git', root)));
if (!checkout && existsSync(built)) {
  await import(built);
} else if (process.features.typescript) {
  await import(cli);
} else {
  const run = spawnSync(process.execPath, ['--experimental-strip-types', '--no-warnings', cli, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(run.status ?? 1);
}
