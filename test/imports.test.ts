// The module graph of src/ has no circles: every arrow (type-only imports included)
// points one way, so each folder can be read, tested and replaced on its own.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';

const SRC = join(import.meta.dirname, '..', 'src');
const IMPORT = /^(?:import|export)\s[^;]*?\sfrom\s+'(\.[^']+)'/gms;

function graph(): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((file) =>
    file.endsWith('.ts'),
  );
  for (const file of files) {
    const text = readFileSync(join(SRC, file), 'utf8');
    const targets = [...text.matchAll(IMPORT)].map((match) => normalize(join(dirname(file), match[1])));
    edges.set(normalize(file), targets);
  }
  return edges;
}

/** One circle through the graph, as a list of files, or undefined when there is none. */
function findCircle(edges: Map<string, string[]>): string[] | undefined {
  const done = new Set<string>();
  const path: string[] = [];
  const onPath = new Set<string>();
  function visit(file: string): string[] | undefined {
    if (onPath.has(file)) return [...path.slice(path.indexOf(file)), file];
    if (done.has(file) || !edges.has(file)) return undefined;
    path.push(file);
    onPath.add(file);
    for (const target of edges.get(file)!) {
      const circle = visit(target);
      if (circle) return circle;
    }
    path.pop();
    onPath.delete(file);
    done.add(file);
    return undefined;
  }
  for (const file of edges.keys()) {
    const circle = visit(file);
    if (circle) return circle;
  }
  return undefined;
}

test('src/ has no import circles', () => {
  const edges = graph();
  assert.ok(edges.size > 50, `read ${edges.size} modules`);
  assert.ok(edges.get(normalize('upstream/instance.ts'))?.includes(normalize('upstream/retirement.ts')));
  const circle = findCircle(edges);
  assert.equal(
    circle,
    undefined,
    `import circle: ${circle?.map((file) => relative('.', file)).join(' -> ')}`,
  );
});

test('the rate-limit store contract imports none of its implementations', () => {
  const edges = graph();
  const store = edges.get(normalize('ratelimit/store.ts'));
  assert.ok(store, 'ratelimit/store.ts exists');
  assert.deepEqual(
    store.filter((target) => target.includes('memory-store') || target.includes('redis-store')),
    [],
  );
});
