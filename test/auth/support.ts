import assert from 'node:assert/strict';
// Shared by the auth tests (the fake clock and loggers are in test/helpers/): AuthConfig built through the real schema so defaults apply as in production.
import { type AuthConfig, authSchema } from '../../src/config/schema.ts';
import { GatewayError } from '../../src/errors.ts';

/** Parses auth settings as written in YAML (durations as strings). */
export function authConfig(input: Record<string, unknown>): AuthConfig {
  return authSchema.parse(input);
}

/** The sequence 0, 0, 0...: every backoff at its shortest (half its nominal delay), so retry tests stay fast. */
export const noJitter = (): number => 0;

/** Asserts a rejection with the given code and returns the error. */
export async function rejection(promise: Promise<unknown>, code: string): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof GatewayError, `expected a GatewayError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}, but it resolved`);
}
