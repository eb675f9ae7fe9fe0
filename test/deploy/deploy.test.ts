// What the container image would run, tested without a Docker engine: the production
// install (no devDependencies) with the JavaScript build, started as an unprivileged
// user, and every config the repo ships for compose and Kubernetes validated against
// the schema.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { once } from 'node:events';
import { chmod, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { send } from '../helpers/http.ts';
import { hostJemalloc } from '../helpers/jemalloc.ts';
import { startUpstream } from '../helpers/upstream.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
/** The image's `gatehouse` user (Dockerfile). */
const APP_UID = 1001;

test('the demo, compose and Kubernetes configs are valid', async () => {
  parseConfig(await readFile(join(root, 'demo/gateway.yaml'), 'utf8'), 'demo/gateway.yaml');
  // compose.yaml shares the rate limits in Redis through the environment.
  const compose = parse(await readFile(join(root, 'compose.yaml'), 'utf8'));
  parseConfig(
    await readFile(join(root, 'deploy/compose/gateway.yaml'), 'utf8'),
    'deploy/compose/gateway.yaml',
    {
      ...compose.services.gateway.environment,
      ADMIN_HOST: '0.0.0.0',
    },
  );
  const configMap = parse(await readFile(join(root, 'deploy/kubernetes/configmap.yaml'), 'utf8'));
  const { config } = parseConfig(configMap.data['gateway.yaml'], 'configmap gateway.yaml');
  assert.equal(config.rate_limit?.store, 'redis');
  // The pod's grace period must outlast the drain.
  const deployment = (await readFile(join(root, 'deploy/kubernetes/deployment.yaml'), 'utf8')).split(
    '\n---\n',
  )[0];
  const grace = parse(deployment).spec.template.spec.terminationGracePeriodSeconds;
  assert.ok(grace * 1000 > config.server.shutdown_timeout + 5000);
});

/** An ES256 token for the key pair, signed here with node:crypto (jose is the gateway's business). */
function es256Token(privateKey: import('node:crypto').KeyObject, claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part({ alg: 'ES256', typ: 'JWT' })}.${part(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

test('the production build serves as uid 1001 from a tree it cannot write, workers and lazy modules included', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-prod-'));
  const upstream = await startUpstream();
  let child: ChildProcess | undefined;
  try {
    for (const entry of ['package.json', 'package-lock.json', 'bin', 'src']) {
      await cp(join(root, entry), join(dir, entry), { recursive: true });
    }
    // As the Dockerfile's build stage does, with this checkout's TypeScript.
    await run(process.execPath, [join(root, 'scripts/build.ts'), join(dir, 'dist')]);
    // As the Dockerfile does: production dependencies only, no install scripts.
    await run(
      'npm',
      ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'],
      {
        cwd: dir,
        env: { ...process.env, npm_config_loglevel: 'error' },
      },
    );
    const installed = JSON.parse(await readFile(join(dir, 'node_modules/.package-lock.json'), 'utf8'));
    const names = Object.keys(installed.packages);
    assert.ok(names.includes('node_modules/undici'));
    assert.ok(
      !names.includes('node_modules/typescript') && !names.includes('node_modules/node'),
      'no dev dependencies',
    );

    // Two workers (the worker entry is found in the build), jwt auth (its verifier is a
    // module loaded only when a config uses it) and a plugin whose GatewayError comes from
    // `gatehouse/plugin`, the sources: the build's gateway must still map it to its status.
    await writeFile(
      join(dir, 'deny.ts'),
      "import { GatewayError } from 'gatehouse/plugin';\nexport default () => () => { throw new GatewayError('FORBIDDEN'); };\n",
    );
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(
      join(dir, 'gateway.yaml'),
      stringify({
        server: { host: '127.0.0.1', port: 0, workers: 2 },
        admin: { port: 0 },
        auth: {
          mode: 'jwt',
          public_key: publicKey.export({ type: 'spki', format: 'pem' }),
          algorithms: ['ES256'],
        },
        plugins: { deny: { module: './deny.ts' } },
        services: { echo: { url: upstream.url } },
        routes: [
          { path: '/denied', service: 'echo', auth: 'none', policies: ['deny'] },
          { path: '/', service: 'echo', auth: 'required' },
        ],
      }),
    );
    await chmod(dir, 0o755);
    // Root in CI and on developer machines here: drop to uid 1001, as USER 1001 does in the image.
    const asRoot = process.getuid?.() === 0;
    const asUser = asRoot ? { uid: APP_UID, gid: APP_UID } : {};
    if (asRoot) {
      // The tree stays root's: the gateway's user can read and run it, not change it.
      const write = spawnSync(process.execPath, ['-e', "require('fs').writeFileSync('src/x.ts', '')"], {
        cwd: dir,
        ...asUser,
      });
      assert.notEqual(write.status, 0, 'uid 1001 cannot write into the installed tree');
      assert.match(write.stderr.toString(), /EACCES/);
    }
    // The image's own command line and memory settings, read from the Dockerfile.
    const dockerfile = await readFile(join(root, 'Dockerfile'), 'utf8');
    const [, ...entrypoint] = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
    assert.ok(entrypoint.includes('dist/cli.js'), 'the image runs the build');
    // The image preloads Alpine's jemalloc; here the same library from this machine's package.
    assert.match(
      dockerfile,
      /^ENV .*LD_PRELOAD=\/usr\/lib\/libjemalloc\.so\.2/m,
      'the image preloads jemalloc',
    );
    const jemalloc = hostJemalloc();
    const mallocConf = /^ENV .*MALLOC_CONF=(\S+)/m.exec(dockerfile)?.[1] ?? '';
    if (jemalloc === undefined) {
      const message =
        'libjemalloc2 is not installed: the gateway runs on the C library malloc here (apt-get install libjemalloc2)';
      if (process.env.CI === 'true') assert.fail(message);
      console.warn(`WARNING: ${message}`);
    }
    // `npx gatehouse` in an installed tree (no .git) runs the build too.
    const validate = spawnSync(
      process.execPath,
      ['bin/gatehouse.js', 'validate', '--config', 'gateway.yaml'],
      {
        cwd: dir,
        ...asUser,
      },
    );
    assert.equal(validate.status, 0, validate.stderr.toString());
    assert.match(validate.stdout.toString(), /valid/);
    const gateway = spawn(process.execPath, [...entrypoint, 'start', '--config', 'gateway.yaml'], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        ...(jemalloc && { LD_PRELOAD: jemalloc, MALLOC_CONF: mallocConf }),
      },
      stdio: 'pipe',
      ...asUser,
    });
    child = gateway;
    let output = '';
    const listening = new Promise<string>((resolve, reject) => {
      gateway.stdout.on('data', (chunk: Buffer) => {
        output += chunk;
        const line = output.split('\n').find((l) => l.includes('"gateway listening"'));
        if (line) resolve(JSON.parse(line).url);
      });
      gateway.stderr.on('data', (chunk: Buffer) => (output += chunk));
      gateway.once('exit', (code) => reject(new Error(`exited ${code}: ${output}`)));
    });
    const url = await listening;
    if (asRoot) {
      const status = await readFile(`/proc/${gateway.pid}/status`, 'utf8');
      assert.match(status, new RegExp(`^Uid:\\s+${APP_UID}\\s`, 'm'), 'the gateway runs as uid 1001');
    }
    if (jemalloc !== undefined) {
      const maps = await readFile(`/proc/${gateway.pid}/maps`, 'utf8');
      assert.ok(maps.includes('libjemalloc.so.2'), 'the gateway allocates with jemalloc');
    }
    assert.equal((await send(`${url}/hello`)).status, 401);
    const denied = await send(`${url}/denied`);
    assert.equal(denied.status, 403);
    assert.equal(denied.json<{ error: { code: string } }>().error.code, 'FORBIDDEN');
    const token = es256Token(privateKey, { sub: 'u1', exp: Math.floor(Date.now() / 1000) + 60 });
    const response = await send(`${url}/hello`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(response.status, 200);
    assert.equal(upstream.requests.at(-1)?.url, '/hello');
    gateway.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    // jemalloc reports a MALLOC_CONF it does not understand on stderr, then ignores it.
    assert.doesNotMatch(output, /<jemalloc>/, "jemalloc accepts the image's MALLOC_CONF");
  } finally {
    // A failed assertion must not leave the gateway running (and the test waiting on it).
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  }
});
