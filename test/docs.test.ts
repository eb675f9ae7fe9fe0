// The documentation is part of the contract: it must list every error code with its
// status, and the configuration reference must match the schema it is generated from.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { renderConfigReference } from '../scripts/config-reference.ts';
import { ERROR_CATALOG } from '../src/errors.ts';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

test('docs/OPERATIONS.md lists every error code with its status', () => {
  const operations = read('docs/OPERATIONS.md');
  for (const [code, { status }] of Object.entries(ERROR_CATALOG)) {
    assert.match(
      operations,
      new RegExp(`\\| ${status} \\| ${code} \\|`),
      `${code} (${status}) is documented`,
    );
  }
});

test('docs/CONFIGURATION.md is generated from the current schema (npm run docs:config)', () => {
  assert.equal(read('docs/CONFIGURATION.md'), renderConfigReference());
});

test('the README opens with the install, demo and test commands', () => {
  const firstLines = read('README.md').split('\n').slice(0, 8).join('\n');
  assert.match(firstLines, /npm ci/);
  assert.match(firstLines, /npm run demo/);
  assert.match(firstLines, /npm test/);
});
