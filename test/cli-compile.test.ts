// `validate` runs the same compile as start: each class of problem start refuses,
// validate refuses too, with the same key and line. Start failures (a bad config, a
// port that is taken) exit 1 with the key named and without a stack trace.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, formatProblem, parseConfig } from '../src/config/load.ts';
import { startGateway } from '../src/main.ts';
import { type CliResult, runCli } from './helpers/cli.ts';
import { startTestGateway } from './helpers/gateway.ts';

async function write(text: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'gatehouse-cli-')), 'gateway.yaml');
  await writeFile(file, text);
  return file;
}

const SERVICE = 'services:\n  s: { url: http://127.0.0.1:3001 }\nroutes: [{ path: /, service: s }]\n';
const NO_STACK = /^\s+at /m;

/** One config per class of problem, and what both commands must say about it. */
const CASES: { name: string; text: string; env?: NodeJS.ProcessEnv; expected: RegExp }[] = [
  {
    name: 'a bad CIDR',
    text: `server:\n  trusted_proxies: [10.0.0.0/8, 10.0.0.0/33]\n${SERVICE}`,
    expected: /gateway\.yaml:2: server\.trusted_proxies\.1: .*invalid prefix length/,
  },
  {
    name: 'a bad PEM',
    text: `${SERVICE}auth:\n  mode: jwt\n  public_key: not a pem\n`,
    expected: /gateway\.yaml:6: auth\.public_key: not a PEM public key/,
  },
  {
    name: 'an unknown service',
    text: 'services:\n  s: { url: http://127.0.0.1:3001 }\nroutes: [{ path: /, service: nobody }]\n',
    expected: /gateway\.yaml:3: routes\.0\.service: no service named "nobody"/,
  },
  {
    name: 'a URL without a scheme',
    text: 'services:\n  s:\n    url: 127.0.0.1:3001\nroutes: [{ path: /, service: s }]\n',
    expected: /gateway\.yaml:3: services\.s\.url: .*"127\.0\.0\.1:3001" has no scheme/,
  },
  {
    name: 'a URL without a scheme from the environment',
    text: SERVICE,
    env: { SERVICES_S_URL: 'localhost' },
    expected: /env SERVICES_S_URL: services\.s\.url: .*"localhost" has no scheme/,
  },
];

function assertRefused(result: CliResult, expected: RegExp, what: string): void {
  assert.equal(result.code, 1, `${what}: ${result.stderr}`);
  assert.match(result.stderr, expected, what);
  assert.doesNotMatch(result.stderr, NO_STACK, `${what}: no stack trace`);
}

test('validate refuses every class of config that start refuses, with the same key and line', async () => {
  await Promise.all(
    CASES.map(async ({ name, text, env, expected }) => {
      const file = await write(text);
      assertRefused(await runCli(['validate', '--config', file], env), expected, `validate, ${name}`);
      // start is the CLI's startGateway; one class goes through the real CLI below.
      const refused = await startGateway({
        configFile: file,
        env: env ?? {},
        watch: false,
        logDestination: { write() {} },
      }).then(
        async (gateway) => {
          await gateway.shutdown();
          return undefined;
        },
        (error: unknown) => error,
      );
      assert.ok(refused instanceof ConfigError, `start, ${name}: ${String(refused)}`);
      const lines = refused.problems.map((problem) => formatProblem(file, problem)).join('\n');
      assert.match(lines, expected, `start, ${name}`);
    }),
  );
  const start = await runCli(['start', '--config', await write(CASES[0].text)]);
  assertRefused(start, CASES[0].expected, 'the CLI start');
  assert.match(start.stderr, /not started/);
});

test('a port already in use fails start naming its config key, exit 1, no stack trace', async () => {
  const taken = createServer();
  taken.listen(0, '127.0.0.1');
  await once(taken, 'listening');
  const port = (taken.address() as { port: number }).port;
  try {
    const file = await write(`server:\n  host: 127.0.0.1\n  port: ${port}\nadmin:\n  port: 0\n${SERVICE}`);
    const server = await runCli(['start', '--config', file]);
    assertRefused(
      server,
      new RegExp(`gateway\\.yaml:3: server\\.port: 127\\.0\\.0\\.1:${port} is already in use`),
      'server.port',
    );
    const adminFile = await write(`server:\n  port: 0\nadmin:\n  port: ${port}\n${SERVICE}`);
    await assert.rejects(
      startGateway({ configFile: adminFile, env: {}, watch: false, logDestination: { write() {} } }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems[0].path === 'admin.port' &&
        error.problems[0].line === 4 &&
        error.problems[0].message === `127.0.0.1:${port} is already in use`,
    );
  } finally {
    taken.close();
  }
});

test('log levels are case-insensitive: LOG_LEVEL=DEBUG works', async () => {
  const gw = await startTestGateway(
    { services: { s: { url: 'http://127.0.0.1:3001' } }, routes: [{ path: '/', service: 's' }] },
    { env: { LOG_LEVEL: 'DEBUG' }, watch: false },
  );
  try {
    assert.equal(gw.gateway.config.log.level, 'debug');
    assert.equal(gw.gateway.logger.level, 'debug');
  } finally {
    await gw.close();
  }
  const mixed = parseConfig(`log: { level: Warn }\n${SERVICE}`, 'gateway.yaml');
  assert.equal(mixed.config.log.level, 'warn');
  assert.throws(
    () => parseConfig(`log: { level: loud }\n${SERVICE}`, 'gateway.yaml'),
    /log\.level: expected debug, info, warn or error/,
  );
});
