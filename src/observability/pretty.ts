// log.format: pretty — human-readable lines for a terminal through pino-pretty, which
// is imported only when asked for. Access lines read as "GET /path -> 200 (3.1 ms)",
// the startup line names where the listeners really are, and the fields follow on the
// same line.
import type { DestinationStream } from 'pino';

export async function prettyDestination(
  destination: DestinationStream | undefined,
): Promise<DestinationStream> {
  const { default: pretty } = await import('pino-pretty');
  return pretty({
    destination: destination ?? 1,
    // Colours only for a terminal: a file or a log collector gets plain text.
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,listening,admin_listening',
    singleLine: true,
    messageFormat: (log, messageKey) => {
      const message = String(log[messageKey] ?? '');
      if (message === 'gateway listening') {
        const admin = log.admin_listening === undefined ? '' : `; admin on ${String(log.admin_listening)}`;
        return `gateway listening on ${String(log.listening)}${admin}`;
      }
      if (message !== 'request') return message;
      const reason = log.reason === undefined ? '' : ` ${String(log.reason)}`;
      return `${String(log.method)} ${String(log.path)} -> ${String(log.status)}${reason} (${String(log.duration_ms)} ms)`;
    },
  });
}
