// A config loads only the dependencies it uses: a plain gateway never loads ioredis or
// jose; jwt mode loads jose and store: redis loads ioredis, when they are configured.
// Each case starts a real gateway in a fresh process that records every module resolved.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

// Registers a resolve hook, starts the gateway, prints which of the watched packages were resolved, stops.
const CHILD = `
import { registerHooks } from 'node:module';
const seen = new Set();
registerHooks({ resolve(specifier, context, next) { seen.add(specifier); return next(specifier, context); } });
const { startGateway } = await import(${JSON.stringify(MAIN)});
const gateway = await startGateway({ configFile: process.argv[1], watch: false });
await gateway.shutdown();
process.stdout.write('LOADED ' + JSON.stringify(['ioredis', 'jose'].filter((name) => seen.has(name))) + '\\n');
`;

async function loadedBy(config: Record<string, unknown>): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-lazy-'));
  try {
    const file = join(dir, 'gateway.yaml');
    await writeFile(
      file,
      stringify({
        server: { host: '127.0.0.1', port: 0, shutdown_timeout: '1s' },
        admin: { enabled: false },
        log: { level: 'error' },
        services: { up: { url: 'http://127.0.0.1:9' } },
        routes: [{ path: '/', service: 'up' }],
        ...config,
      }),
    );
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, file], {
      env: { PATH: process.env.PATH },
      stdio: 'pipe',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    const [code] = await once(child, 'exit');
    const line = stdout.split('\n').find((l) => l.startsWith('LOADED '));
    assert.ok(line, `no LOADED line (exit ${code}): ${stderr}${stdout}`);
    return JSON.parse(line.slice('LOADED '.length)) as string[];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a config without jwt mode or a Redis store loads neither jose nor ioredis', async () => {
  assert.deepEqual(
    await loadedBy({
      auth: { mode: 'remote', verify_url: 'http://127.0.0.1:9/verify' },
      rate_limit: { store: 'memory' },
    }),
    [],
  );
});

test('jwt mode loads jose; store: redis loads ioredis', async () => {
  assert.deepEqual(
    await loadedBy({
      auth: { mode: 'jwt', jwks_url: 'http://127.0.0.1:9/jwks.json' },
      rate_limit: { store: 'redis', redis_url: 'redis://127.0.0.1:9' },
    }),
    ['ioredis', 'jose'],
  );
});
