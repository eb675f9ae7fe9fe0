// A canary split: each request goes to one of several services in proportion to their
// weights. A client that sends X-Canary-Key is placed by a hash of that key instead of
// a random draw, so it stays on the same side for as long as the weights stay the same.
import type { IncomingHttpHeaders } from 'node:http';
import type { Random } from '../backoff.ts';

export const CANARY_KEY_HEADER = 'x-canary-key';

export interface SplitSide<T> {
  readonly weight: number;
  readonly value: T;
}

export type SplitPicker<T> = (headers: IncomingHttpHeaders) => T;

export function createSplit<T>(sides: readonly SplitSide<T>[], random: Random = Math.random): SplitPicker<T> {
  const bounds: number[] = [];
  let total = 0;
  for (const side of sides) {
    total += side.weight;
    bounds.push(total);
  }
  const values = sides.map((side) => side.value);
  return (headers) => {
    const key = headers[CANARY_KEY_HEADER];
    const point = typeof key === 'string' && key !== '' ? (fnv1a(key) / 2 ** 32) * total : random() * total;
    for (let i = 0; i < bounds.length; i++) if (point < bounds[i]) return values[i];
    return values[values.length - 1];
  };
}

/** 32-bit FNV-1a with a final avalanche, so similar keys land far apart. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  return hash >>> 0;
}
