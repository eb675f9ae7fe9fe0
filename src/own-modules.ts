// Gatehouse runs from its TypeScript sources (Node strips the types: `npm start`, the
// tests) or from the JavaScript build in dist/ (`npm run build`: the image, the bench).
// The build rewrites the extension of every static and literal dynamic import; a path
// to one of our own modules handed to something else at run time (a lazy require, a
// worker's entry) is written with `.ts` and goes through here to get the running one.
import { createRequire } from 'node:module';

const RUNNING_EXTENSION = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** The URL of one of our modules, `path` relative to `from` (the caller's import.meta.url). */
export function ownModuleUrl(path: string, from: string): URL {
  return new URL(path.replace(/\.ts$/, RUNNING_EXTENSION), from);
}

/**
 * A loader that requires one of our modules synchronously on first call: for modules that
 * pull in a heavy dependency only some configs use, needed in a synchronous step.
 */
export function lazyOwnModule<T>(path: string, from: string): () => T {
  const load = createRequire(from);
  const file = path.replace(/\.ts$/, RUNNING_EXTENSION);
  return () => load(file) as T;
}
