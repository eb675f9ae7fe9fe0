// gatehouse start | validate | schema. Exit codes: 0 ok, 1 invalid config or failed start, 2 usage.
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { adminExposureWarning } from './admin/exposure.ts';
import { hashKey } from './auth/api-keys.ts';
import { ConfigError, formatProblem } from './config/load.ts';
import { configJsonSchema } from './config/schema.ts';
import { startGateway } from './main.ts';
import { stdoutDestination } from './observability/logger.ts';
import { compileFile } from './runtime/compile.ts';

const USAGE = `Usage:
  gatehouse start    [--config FILE]   run the gateway (default: $GATEHOUSE_CONFIG, then ./gateway.yaml)
  gatehouse validate [--config FILE]   check a config; print every error and exit 1 if any
  gatehouse schema                     print the config's JSON Schema
  gatehouse hash-key < KEY             print the SHA-256 (hex) of an API key read from stdin, for keys files`;

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<
    typeof parseArgs<{
      options: { config: { type: 'string'; short: 'c' }; help: { type: 'boolean'; short: 'h' } };
      allowPositionals: true;
    }>
  >;
  try {
    parsed = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const [command = 'start', ...extra] = parsed.positionals;
  if (parsed.values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (extra.length > 0) {
    process.stderr.write(`unexpected arguments: ${extra.join(' ')}\n${USAGE}\n`);
    return 2;
  }
  const configFile = parsed.values.config ?? process.env.GATEHOUSE_CONFIG ?? 'gateway.yaml';
  switch (command) {
    case 'hash-key':
      return hashKeyFromStdin();
    case 'schema':
      process.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
      return 0;
    case 'validate':
      return validate(configFile);
    case 'start':
      return start(configFile);
    default:
      process.stderr.write(`unknown command: ${command}\n${USAGE}\n`);
      return 2;
  }
}

/** The key is read whole from stdin; one trailing newline (what echo and editors add) is not part of it. */
async function hashKeyFromStdin(): Promise<number> {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  const key = text.replace(/\r?\n$/, '');
  if (key === '') {
    process.stderr.write('hash-key: no key on stdin\n');
    return 1;
  }
  process.stdout.write(`${hashKey(key)}\n`);
  return 0;
}

/** Runs the compile step start and reload run, so a file that passes here is one they accept. */
async function validate(configFile: string): Promise<number> {
  try {
    const { ignoredVariables, plan } = await compileFile(configFile);
    for (const variable of ignoredVariables)
      process.stderr.write(`warning: env ${variable} names no config key; ignored\n`);
    const exposure = adminExposureWarning(plan.config);
    if (exposure) process.stderr.write(`warning: ${exposure}\n`);
    for (const warning of plan.tlsWarnings)
      process.stderr.write(`warning: ${formatProblem(configFile, warning)}\n`);
    process.stdout.write(`${configFile}: valid\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${configFile}: ${error.problems.length} problem(s)\n`);
    for (const problem of error.problems) process.stderr.write(`  ${formatProblem(configFile, problem)}\n`);
    return 1;
  }
}

async function start(configFile: string): Promise<number> {
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  const logDestination = stdoutDestination();
  try {
    gateway = await startGateway({ configFile, logDestination });
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${configFile}: the gateway was not started\n`);
      for (const problem of error.problems) process.stderr.write(`  ${formatProblem(configFile, problem)}\n`);
      if (!existsSync(configFile)) {
        process.stderr.write(
          'Pass --config FILE or set GATEHOUSE_CONFIG; demo/gateway.yaml is a complete example.\n',
        );
      }
    } else {
      process.stderr.write(`the gateway failed to start: ${(error as Error).message}\n`);
    }
    return 1;
  }
  const { logger } = gateway;
  // One bad request must never take the process down.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));
  // A thrown error outside any request leaves the process in an unknown state: log it, flush, exit.
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception; exiting');
    logDestination.flushSync();
    process.exit(1);
  });

  return new Promise<number>((resolve) => {
    let signals = 0;
    const stop = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        logger.warn({ signal }, 'second signal: exiting at once');
        logDestination.flushSync();
        process.exit(1);
      }
      logger.info({ signal }, 'shutting down');
      gateway.shutdown().then(
        () => resolve(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    process.on('SIGHUP', () => {
      void gateway.reload();
    });
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Leftover handles (a retiring pool, a Redis reconnect timer) must not hold a finished command open.
    setTimeout(() => process.exit(code), 50).unref();
  },
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
