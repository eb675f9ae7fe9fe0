import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { describeChanges, ReloadHistory } from '../../src/runtime/reload-history.ts';

const config = (extra: Record<string, unknown>) =>
  parseConfig(
    stringify({
      services: { a: { url: 'http://127.0.0.1:1' }, b: { url: 'http://127.0.0.1:2' } },
      routes: [{ path: '/a', service: 'a' }],
      ...extra,
    }),
    'gateway.yaml',
  ).config;

test('a reload is described by what it added, removed and changed', () => {
  const before = config({});
  const after = config({
    services: { a: { url: 'http://127.0.0.1:3' }, c: { url: 'http://127.0.0.1:4' } },
    routes: [{ path: '/c', service: 'c' }],
    cors: { allowed_origins: ['https://x.test'] },
  });
  assert.deepEqual(describeChanges(before, after), [
    'route /c added',
    'route /a removed',
    'service a changed',
    'service c added',
    'service b removed',
    'cors added',
  ]);
  assert.deepEqual(describeChanges(before, config({})), []);
});

test('the history keeps the last ten reloads, newest first', () => {
  let now = 0;
  const history = new ReloadHistory(() => ++now);
  for (let i = 0; i < 11; i++) history.failed([`error ${i}`]);
  history.succeeded(config({}), config({ routes: [] }), ['log']);
  const list = history.list();
  assert.equal(list.length, 10);
  assert.deepEqual(list[0], { at: 12, ok: true, changes: ['route /a removed'], restartRequired: ['log'] });
  assert.deepEqual(list[9].errors, ['error 2']);
});
