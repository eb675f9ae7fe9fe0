// Hot reload from the file itself: plain writes, rename-over saves, a Kubernetes-style
// symlink swap, half-written files, and reloads under traffic that drop nothing.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { startGateway } from '../../src/main.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let one: TestUpstream;
let two: TestUpstream;

before(async () => {
  one = await startUpstream((_req, res) => setTimeout(() => res.end('one'), 5));
  two = await startUpstream((_req, res) => setTimeout(() => res.end('two'), 5));
});

after(async () => {
  await one.close();
  await two.close();
});

const configFor = (url: string) => ({
  server: { host: '127.0.0.1', port: 0 },
  admin: { port: 0 },
  services: { s: { url } },
  routes: [{ path: '/', service: 's' }],
});

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const answers = (gw: { url: string }, body: string) => async () =>
  (await send(`${gw.url}/x`)).body.toString() === body;

test('a changed file is reloaded; a half-written or invalid one leaves the running config in place', async () => {
  const gw: TestGateway = await startTestGateway(configFor(one.url));
  try {
    assert.equal((await send(`${gw.url}/x`)).body.toString(), 'one');
    await gw.writeConfig(configFor(two.url));
    await eventually(answers(gw, 'two'), 'the edited file to be applied');

    await writeFile(gw.configFile, 'services:\n  s: { url: http://127.0.0.1:1\n'); // cut mid-write
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal((await send(`${gw.url}/x`)).body.toString(), 'two');
    assert.ok(
      gw
        .logs()
        .some((line) => line.msg === 'configuration reload failed; the running configuration stays in force'),
    );

    await gw.writeConfig(configFor(one.url));
    await eventually(answers(gw, 'one'), 'the watcher to keep working after a failure');
  } finally {
    await gw.close();
  }
});

test('rename-over saves and a ConfigMap-style symlink swap are followed', async () => {
  const gw: TestGateway = await startTestGateway(configFor(one.url));
  try {
    const staged = join(dirname(gw.configFile), 'staged.tmp');
    await writeFile(staged, stringify(configFor(two.url)));
    await rename(staged, gw.configFile);
    await eventually(answers(gw, 'two'), 'the renamed-over file');
    await writeFile(staged, stringify(configFor(one.url)));
    await rename(staged, gw.configFile);
    await eventually(answers(gw, 'one'), 'a second rename-over');
  } finally {
    await gw.close();
  }

  // Kubernetes mounts gateway.yaml -> ..data/gateway.yaml, ..data -> ..2026_v1, and swaps ..data.
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-configmap-'));
  await mkdir(join(dir, 'v1'));
  await mkdir(join(dir, 'v2'));
  await writeFile(join(dir, 'v1', 'gateway.yaml'), stringify(configFor(one.url)));
  await writeFile(join(dir, 'v2', 'gateway.yaml'), stringify(configFor(two.url)));
  await symlink('v1', join(dir, '..data'));
  const file = join(dir, 'mounted.yaml');
  await symlink(join('..data', 'gateway.yaml'), file);
  const gateway = await startGateway({ configFile: file, env: {}, logDestination: { write() {} } });
  try {
    assert.equal((await send(`${gateway.url}/x`)).body.toString(), 'one');
    await symlink('v2', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await eventually(answers(gateway, 'two'), 'the symlink swap');
  } finally {
    await gateway.shutdown();
    await rm(dir, { recursive: true, force: true });
  }
});

test('reloading under traffic drops no request', async () => {
  const gw: TestGateway = await startTestGateway(configFor(one.url));
  try {
    let stop = false;
    const failures: string[] = [];
    let served = 0;
    const client = async () => {
      while (!stop) {
        try {
          const response = await send(`${gw.url}/x`);
          if (response.status !== 200) failures.push(`status ${response.status}`);
          served++;
        } catch (error) {
          failures.push(String(error));
        }
      }
    };
    const clients = Array.from({ length: 8 }, client);
    for (let i = 0; i < 10; i++) {
      await gw.writeConfig(configFor(i % 2 === 0 ? two.url : one.url));
      const result = await gw.gateway.reload();
      assert.ok(result.ok);
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    stop = true;
    await Promise.all(clients);
    assert.deepEqual(failures, []);
    assert.ok(served > 50, `served ${served}`);
  } finally {
    await gw.close();
  }
});
