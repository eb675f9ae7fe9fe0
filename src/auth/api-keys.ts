// API keys: a consumer presents a key in a header (api_keys.header, X-API-Key by
// default); the keys file lists the consumers with the SHA-256 of their key, never the
// key itself:
//
//   consumers:
//     - { name: billing, key_sha256: 9f86d0…, roles: [admin], rate_limit: { per_client: 5 } }
//
// A known key makes the consumer the request's identity: its name is the user id
// (X-User-ID upstream, the rate-limit key), its roles are the roles, and its optional
// rate_limit is a bucket of its own. Checking a key is synchronous: hash it, find the
// consumer by the hex digest, and confirm with timingSafeEqual. The map lookup's timing
// depends only on the digest of what the client sent, which the client cannot steer
// towards a stored digest (that would take a SHA-256 preimage); the final comparison
// is constant-time. Keys are never logged, cached in the clear or forwarded upstream.
//
// The file is watched like the config file (rename-over saves, ConfigMap swaps): a
// rotated key works without a restart or reload; a file that stops being valid is
// logged and the keys in force stay.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { locate } from '../config/load.ts';
import { watchConfigFile } from '../config/watch.ts';
import { type Identity, isSafeRole, isSafeUserId } from './identity.ts';

/** SHA-256 of a key, lower-case hex: what the keys file holds and `gatehouse hash-key` prints. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

const keysFileSchema = z.strictObject({
  consumers: z
    .array(
      z.strictObject({
        name: z.string().refine(isSafeUserId, 'a consumer name is printable ASCII (it is sent as X-User-ID)'),
        key_sha256: z
          .string()
          .regex(/^[0-9a-fA-F]{64}$/, 'expected the SHA-256 of the key, 64 hex digits (gatehouse hash-key)'),
        roles: z.array(z.string().refine(isSafeRole, 'a role is printable ASCII without commas')).default([]),
        rate_limit: z
          .strictObject({
            per_client: z.number().positive(),
            per_client_burst: z.number().int().positive().optional(),
          })
          .optional(),
      }),
    )
    .default([]),
});

interface Consumer {
  readonly digest: Buffer;
  readonly identity: Identity;
}

/** The consumers of one version of the keys file, by hex digest of their key. */
export type KeySet = ReadonlyMap<string, Consumer>;

export interface KeysFileProblem {
  readonly path: string;
  readonly line?: number;
  readonly message: string;
}

/** Parses a keys file; every problem with its path and line. */
export function parseKeysFile(text: string): { keys: KeySet } | { problems: KeysFileProblem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((error) => ({
        path: '',
        line: error.linePos?.[0].line,
        message: `YAML: ${error.message.split('\n')[0]}`,
      })),
    };
  }
  const lineOf = (path: readonly (string | number)[]): number | undefined =>
    locate(doc, lines, [], path).line;
  const result = keysFileSchema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    return {
      problems: result.error.issues.map((issue) => {
        const path = issue.path.filter((s): s is string | number => typeof s !== 'symbol');
        return { path: path.join('.'), line: lineOf(path), message: issue.message };
      }),
    };
  }
  const keys = new Map<string, Consumer>();
  const problems: KeysFileProblem[] = [];
  const names = new Set<string>();
  result.data.consumers.forEach((consumer, index) => {
    const hex = consumer.key_sha256.toLowerCase();
    if (keys.has(hex)) {
      const path = ['consumers', index, 'key_sha256'];
      problems.push({
        path: path.join('.'),
        line: lineOf(path),
        message: 'the same key as another consumer',
      });
    }
    if (names.has(consumer.name)) {
      const path = ['consumers', index, 'name'];
      problems.push({ path: path.join('.'), line: lineOf(path), message: 'two consumers with one name' });
    }
    names.add(consumer.name);
    const limit = consumer.rate_limit;
    const identity: Identity = Object.freeze({
      userId: consumer.name,
      roles: Object.freeze([...consumer.roles]),
      rateLimit:
        limit &&
        Object.freeze({
          rate: limit.per_client,
          // At least 1: a burst below one token would refuse every request.
          burst: limit.per_client_burst ?? Math.max(1, Math.round(2 * limit.per_client)),
        }),
    });
    keys.set(hex, Object.freeze({ digest: Buffer.from(hex, 'hex'), identity }));
  });
  return problems.length > 0 ? { problems } : { keys };
}

/** Reads and parses a keys file (compile step and watcher). */
export function readKeysFile(file: string): { keys: KeySet } | { problems: KeysFileProblem[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { problems: [{ path: '', message: `cannot read ${file}: ${(error as Error).message}` }] };
  }
  return parseKeysFile(text);
}

/** The identity of a presented key, or undefined for an unknown one. */
export function lookupKey(keys: KeySet, key: string): Identity | undefined {
  const digest = createHash('sha256').update(key).digest();
  const consumer = keys.get(digest.toString('hex'));
  if (consumer === undefined || !timingSafeEqual(digest, consumer.digest)) return undefined;
  return consumer.identity;
}

/** The keys in force, reloaded when the file changes; long-lived state of the registry. */
export interface ApiKeyStore {
  /** Lower-cased header name the key is read from. */
  readonly header: string;
  lookup(key: string): Identity | undefined;
  /** Replaces the keys (a config reload re-read the file). */
  replace(keys: KeySet): void;
  close(): Promise<void>;
}

export function createApiKeyStore(
  file: string,
  header: string,
  initial: KeySet,
  deps: { readonly logger: Logger; readonly watch?: boolean },
): ApiKeyStore {
  let keys = initial;
  const watcher =
    deps.watch === false
      ? undefined
      : watchConfigFile(
          file,
          async () => {
            const read = readKeysFile(file);
            if ('problems' in read) {
              deps.logger.error(
                { file, problems: read.problems.map((p) => `${p.line ?? ''}: ${p.path}: ${p.message}`) },
                'keys file reload failed; the keys in force stay',
              );
              return;
            }
            keys = read.keys;
            deps.logger.info({ file, consumers: keys.size }, 'keys file reloaded');
          },
          { onError: (error) => deps.logger.warn({ err: error, file }, 'keys file watch failed') },
        );
  return {
    header: header.toLowerCase(),
    lookup: (key) => lookupKey(keys, key),
    replace(next) {
      keys = next;
    },
    async close() {
      watcher?.close();
    },
  };
}
