// A chunked request body has no length up front, so its size is counted as it streams;
// past the limit the stream fails, which aborts the upstream request mid-way.
import { Transform, type TransformCallback } from 'node:stream';
import { BodyLimitExceeded } from './error-map.ts';

export class BodyLimitStream extends Transform {
  readonly #limit: number;
  #seen = 0;

  constructor(limit: number) {
    super();
    this.#limit = limit;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#limit) {
      callback(new BodyLimitExceeded());
      return;
    }
    callback(null, chunk);
  }
}
