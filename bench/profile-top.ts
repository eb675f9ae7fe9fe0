// Summarizes a V8 CPU profile (.cpuprofile, from `node --cpu-prof` or BENCH_PROFILE=1):
// self time by function and by where the code lives (a src/ file, a package, Node's
// internals, GC), busiest first.
//   node bench/profile-top.ts <file.cpuprofile> [lines, default 25] [skip seconds, default 0]
// Skipping the first seconds leaves start-up (module loading, config) out of a bench profile.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, countArg, skipArg] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node bench/profile-top.ts <file.cpuprofile> [lines]\n');
  process.exit(2);
}
const limit = Number(countArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const skipUs = Number(skipArg ?? 0) * 1e6;
const selfUs = new Map<number, number>();
let elapsedUs = 0;
for (let i = 0; i < profile.samples.length; i++) {
  elapsedUs += profile.timeDeltas[i] ?? 0;
  if (elapsedUs < skipUs) continue;
  const id = profile.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}

function area(url: string, name: string): string {
  if (url === '') return name.startsWith('(') ? name : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return 'node internals';
  const src = /\/((?:src|bench|demo)\/.*)$/.exec(url);
  return src ? src[1] : url;
}

const functions = new Map<string, number>();
const areas = new Map<string, number>();
let total = 0;
for (const [id, us] of selfUs) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const where = area(url, functionName);
  const key = `${functionName || '(anonymous)'}  ${where}${url ? `:${lineNumber + 1}` : ''}`;
  functions.set(key, (functions.get(key) ?? 0) + us);
  areas.set(where, (areas.get(where) ?? 0) + us);
  total += us;
}
const idle = [...selfUs].reduce(
  (sum, [id, us]) => (byId.get(id)!.callFrame.functionName === '(idle)' ? sum + us : sum),
  0,
);
const busy = total - idle;
const print = (title: string, entries: Map<string, number>) => {
  process.stdout.write(`\n${title} (% of busy time, ${(busy / 1e6).toFixed(2)} s busy)\n`);
  for (const [key, us] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
    if (key.startsWith('(idle)')) continue;
    process.stdout.write(`${((100 * us) / busy).toFixed(1).padStart(6)}%  ${key}\n`);
  }
};
print('by area', areas);
print('by function', functions);
