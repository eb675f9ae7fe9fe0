// Shared pieces of the upstream tests (clock, loggers and upstream servers are in
// test/helpers/): service configs parsed by the real schema, and a poll for a condition.
import { type ServiceConfig, serviceSchema } from '../../src/config/schema.ts';

/** A service config as the schema produces it (durations in ms, defaults filled). */
export function service(input: Record<string, unknown>): ServiceConfig {
  return serviceSchema.parse(input);
}

/** Polls until `check` holds; the deadline only keeps a broken test from hanging. */
export async function eventually(check: () => boolean, what: string, deadlineMs = 5_000): Promise<void> {
  const giveUpAt = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > giveUpAt) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
