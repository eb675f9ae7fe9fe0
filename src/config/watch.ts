// Reloads when the config file changes. The directory is watched, not the file:
// editors save by rename-over and Kubernetes swaps a ConfigMap by replacing a symlink,
// and a watch on the old inode would go silent after either. Changes are debounced
// (a half-written file settles first) and compared by content, so a touch or a
// ConfigMap's double swap reloads once.
import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';

export interface ConfigWatcher {
  close(): void;
}

export function watchConfigFile(
  file: string,
  onChange: () => Promise<unknown>,
  options: { debounceMs?: number; onError?: (error: unknown) => void } = {},
): ConfigWatcher {
  const debounceMs = options.debounceMs ?? 250;
  const name = basename(file);
  let lastDigest: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const digest = async (): Promise<string | undefined> => {
    try {
      return createHash('sha256')
        .update(await readFile(file))
        .digest('hex');
    } catch {
      return undefined; // mid-swap: the next event will tell
    }
  };
  void digest().then((d) => {
    lastDigest ??= d;
  });

  const check = async () => {
    const current = await digest();
    if (closed || current === undefined || current === lastDigest) return;
    lastDigest = current;
    await onChange();
  };

  let watcher: FSWatcher;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      // A ConfigMap swap changes `..data`, not the file's own name: any change in the directory counts.
      if (changed !== null && changed !== name && !String(changed).startsWith('..')) return;
      clearTimeout(timer);
      timer = setTimeout(() => void check().catch(options.onError), debounceMs);
      timer.unref();
    });
    watcher.on('error', (error) => options.onError?.(error));
  } catch (error) {
    options.onError?.(error);
    return { close() {} };
  }
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      watcher.close();
    },
  };
}

/** The gateway's own config file watch: one that fails is only logged, as reloads still have other ways in. */
export function watchToReload(file: string, reload: () => Promise<unknown>, logger: Logger): ConfigWatcher {
  return watchConfigFile(file, reload, {
    onError: (error) =>
      logger.warn({ err: error }, 'config file watch failed; SIGHUP and POST /reload still work'),
  });
}
