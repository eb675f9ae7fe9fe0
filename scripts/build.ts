// `npm run build`: the JavaScript build of src/ in dist/ (or the folder given), which the
// image and the benchmark run. Running the sources directly works too (Node strips the
// types), but the stripper is itself loaded into the process: the build starts faster
// and holds about 20 MB less (docs/PERFORMANCE.md). The admin UI's files are copied
// beside the module that serves them.
//   node scripts/build.ts [outDir, default dist]
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outDir = resolve(root, process.argv[2] ?? 'dist');
rmSync(outDir, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', outDir],
  { stdio: 'inherit' },
);
cpSync(join(root, 'src/admin/ui'), join(outDir, 'admin/ui'), { recursive: true });
