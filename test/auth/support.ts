import assert from 'node:assert/strict';
// Shared by the auth tests: a clock moved by hand, a logger that keeps its lines, and
// AuthConfig built through the real schema so defaults apply as in production.
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { type AuthConfig, authSchema } from '../../src/config/schema.ts';
import { GatewayError } from '../../src/errors.ts';

export interface FakeClock {
  readonly clock: () => number;
  advance(ms: number): void;
  readonly now: number;
}

/** Starts at a fixed, realistic epoch time (2024-01-01T00:00:00Z). */
export function fakeClock(start = Date.UTC(2024, 0, 1)): FakeClock {
  let now = start;
  return {
    clock: () => now,
    advance(ms) {
      now += ms;
    },
    get now() {
      return now;
    },
  };
}

export interface CapturedLogger {
  readonly logger: Logger;
  readonly lines: Record<string, unknown>[];
}

export function captureLogger(): CapturedLogger {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

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
