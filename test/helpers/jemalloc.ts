// Where this machine keeps jemalloc (Debian's libjemalloc2, Alpine's jemalloc), which
// the image preloads as the gateway's allocator (Dockerfile, LD_PRELOAD): the deploy
// test and the bench run the gateway with the same allocator as the image.
import { existsSync } from 'node:fs';

const CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
  '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2',
  '/usr/lib/libjemalloc.so.2',
];

/** The path of libjemalloc.so.2 here, or undefined when it is not installed. */
export function hostJemalloc(): string | undefined {
  return CANDIDATES.find((path) => existsSync(path));
}
