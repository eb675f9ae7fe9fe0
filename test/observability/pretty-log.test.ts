// log.format: pretty: readable lines for a terminal, with the startup line naming the
// listening addresses and the access line's 401 reason as a short code.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { startGateway } from '../../src/main.ts';
import { send } from '../helpers/http.ts';
import { startUpstream } from '../helpers/upstream.ts';

test('log.format: pretty writes readable lines, not JSON', async () => {
  const upstream = await startUpstream();
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-pretty-'));
  const configFile = join(dir, 'gateway.yaml');
  await writeFile(
    configFile,
    stringify({
      server: { host: '0.0.0.0', port: 0 },
      admin: { port: 0 },
      log: { format: 'pretty' },
      services: { a: { url: upstream.url } },
      routes: [{ path: '/a', service: 'a' }],
    }),
  );
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  const gateway = await startGateway({ configFile, env: {}, logDestination: destination, watch: false });
  try {
    assert.equal((await send(`${gateway.url}/a/items`)).status, 200);
    await gateway.shutdown();
    const lines = text.split('\n').filter(Boolean);
    assert.ok(lines.length >= 3, text);
    for (const line of lines) assert.throws(() => JSON.parse(line), `not JSON: ${line}`);
    const startup = lines.find((line) => line.includes('gateway listening on'));
    assert.ok(startup, text);
    // A wildcard bind is described, never offered as a URL to connect to.
    assert.match(startup, /INFO: gateway listening on all interfaces, e\.g\. http:\/\/127\.0\.0\.1:\d+/);
    assert.doesNotMatch(startup, /http:\/\/0\.0\.0\.0/);
    assert.match(startup, /admin on http:\/\/127\.0\.0\.1:\d+/);
    assert.match(text, /INFO: GET \/a\/items -> 200 \([\d.]+ ms\)/);
    assert.match(text, /"request_id":"[^"]+"/);
  } finally {
    await gateway.shutdown();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  }
});
