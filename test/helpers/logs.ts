// Loggers for unit tests: one that keeps its lines (parsed) for assertions, and one
// that writes nothing. Gateways started by test/helpers/gateway.ts capture their own.
import { type Logger, pino } from 'pino';

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface CapturedLogger {
  readonly logger: Logger;
  /** Every line written so far, parsed, oldest first. */
  readonly lines: LogLine[];
}

/** A pino logger at debug level whose lines land in `lines`. */
export function captureLogger(): CapturedLogger {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(chunk: string) {
        for (const line of chunk.split('\n')) if (line) lines.push(JSON.parse(line) as LogLine);
      },
    },
  );
  return { logger, lines };
}

export const silentLogger: Logger = pino({ level: 'silent' });
