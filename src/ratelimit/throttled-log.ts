// A Redis outage under load fails every request; one log line each would turn the
// outage into a disk-filling incident. This lets one line through per interval and
// says how many were held back since the last one.
import type { Clock } from '../clock.ts';

/** The slice of a pino logger this needs. */
export interface WarnLogger {
  warn(fields: object, message: string): void;
}

export type ThrottledWarn = (fields: Record<string, unknown>, message: string) => void;

export function createThrottledWarn(log: WarnLogger, intervalMs: number, clock: Clock): ThrottledWarn {
  let nextAt = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (fields, message) => {
    const now = clock();
    if (now < nextAt) {
      suppressed++;
      return;
    }
    nextAt = now + intervalMs;
    log.warn(suppressed > 0 ? { ...fields, suppressed } : fields, message);
    suppressed = 0;
  };
}
