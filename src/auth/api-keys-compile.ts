// The compile step of the api_keys section: the keys file is read and checked like the
// config itself, so `validate` refuses a keys file the gateway could not use, naming
// the file, the consumer's path and its line.
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import { type KeySet, readKeysFile } from './api-keys.ts';

/** What apply needs to create (or refresh) the key store. */
export interface CompiledApiKeys {
  /** Absolute path of the keys file. */
  readonly file: string;
  readonly header: string;
  readonly keys: KeySet;
}

export function compileApiKeys(
  config: Config,
  problems: { add(path: readonly (string | number)[], message: string): void },
  configFile: string,
): CompiledApiKeys | undefined {
  const section = config.api_keys;
  if (section === undefined) return undefined;
  const file = isAbsolute(section.keys_file)
    ? section.keys_file
    : resolve(dirname(resolve(configFile)), section.keys_file);
  const read = readKeysFile(file);
  if ('problems' in read) {
    for (const problem of read.problems) {
      const where = problem.line === undefined ? file : `${file}:${problem.line}`;
      problems.add(['api_keys', 'keys_file'], `${where}: ${problem.path || '(root)'}: ${problem.message}`);
    }
    return undefined;
  }
  if (config.rate_limit === undefined && [...read.keys.values()].some((c) => c.identity.rateLimit)) {
    problems.add(['api_keys', 'keys_file'], `${file}: a consumer rate_limit needs a rate_limit section`);
    return undefined;
  }
  return Object.freeze({ file, header: section.header, keys: read.keys });
}
