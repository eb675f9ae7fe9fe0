// Durations and sizes as written in the config: `250ms`, `30s`, `5m`, `1h`; `512b`,
// `64kb`, `10mb`, `1gb` (1kb = 1024 bytes). A bare number is rejected on purpose:
// `timeout: 30` is ambiguous between seconds and milliseconds.

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const DURATION_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

const SIZE = /^(\d+(?:\.\d+)?)(b|kb|mb|gb)$/i;
const SIZE_BYTES = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 } as const;

export const DURATION_PATTERN = '^\\d+(\\.\\d+)?(ms|s|m|h)$';
export const SIZE_PATTERN = '^\\d+(\\.\\d+)?([bB]|[kKmMgG][bB])$';

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * DURATION_MS[match[2] as keyof typeof DURATION_MS]);
}

/** Bytes, or undefined when the text is not a size. */
export function parseSize(text: string): number | undefined {
  const match = SIZE.exec(text.trim());
  if (!match) return undefined;
  return Math.floor(Number(match[1]) * SIZE_BYTES[match[2].toLowerCase() as keyof typeof SIZE_BYTES]);
}
