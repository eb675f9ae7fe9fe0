// JSON logs through pino. Credentials never reach a log line: the access log is built
// from chosen fields only, and redaction is a second guard for anything logged ad hoc.
import { type DestinationStream, type Logger, pino } from 'pino';
import { AccessLog } from './access-log.ts';
import { LogWriter } from './log-writer.ts';

export type { Logger } from 'pino';

/**
 * stdout through an asynchronous, batching writer (log-writer.ts): a synchronous write
 * per access-log line costs about a fifth of the gateway's throughput. The CLI flushes
 * what is pending on shutdown and on a fatal error.
 */
export function stdoutDestination(): DestinationStream & { flushSync(): void } {
  return new LogWriter(1);
}

export interface Loggers {
  /** Everything but the access log; redacts credentials as a second guard for ad-hoc fields. */
  readonly logger: Logger;
  /**
   * The access log: its lines are built from chosen fields that never hold credentials,
   * by a serializer of its own (see access-log.ts). Same destination, same format.
   */
  readonly accessLog: AccessLog;
}

export function createLoggers(level: string, destination: DestinationStream = stdoutDestination()): Loggers {
  const common = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  const redact = {
    paths: [
      'authorization',
      'cookie',
      '*.authorization',
      '*.cookie',
      'headers.authorization',
      'headers.cookie',
    ],
    censor: '[redacted]',
  };
  return {
    logger: pino({ ...common, redact }, destination),
    accessLog: new AccessLog({ level, destination }),
  };
}
