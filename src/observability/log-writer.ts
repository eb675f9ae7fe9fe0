// Where log lines go: a file descriptor (stdout by default), written asynchronously in
// batches. A busy gateway writes a line per request, so the cost of a line matters:
// each line is encoded at once into the batch's buffer, and at most BATCH_MS later (or
// once BATCH_BYTES are waiting) the batch goes out with one write(2), off the main
// thread, while the next one fills a second buffer. Each write costs a trip through
// libuv's thread pool whatever its size, so writes are few: a batch per event-loop turn
// meant thousands of writes a second under load (7% of the gateway's CPU in the
// whole-chain profile). Lines are not kept as strings until the write: a string queued
// for 20 ms outlived the young generation's collections and was copied by each of them
// (with the access log on, garbage collection took twice the time per request).
// (pino's own destination measured about 5 µs of CPU a line in bench/access-log.ts: a
// length scan, a string append and a bounded write per 16 KB; this writer about a third
// of that.)
import { write as fsWrite, writeSync } from 'node:fs';
import type { DestinationStream } from 'pino';

/** How long a line may wait for company: short enough that a log tail feels live. */
export const BATCH_MS = 20;
export const BATCH_BYTES = 64 * 1024;
/** Room for a full batch and the line that fills it, and for what arrives while one is written. */
const INITIAL_BUFFER = 2 * BATCH_BYTES;

export class LogWriter implements DestinationStream {
  readonly #fd: number;
  /** The batch being filled, and how many of its bytes hold lines. */
  #buffer: Buffer = Buffer.allocUnsafe(INITIAL_BUFFER);
  #filled = 0;
  /** The buffer of the last write, reused for the next batch once that write is done. */
  #spare: Buffer | undefined;
  #timer: NodeJS.Timeout | undefined;
  #writing = false;
  #flushWaiters: Array<(error?: Error) => void> = [];

  constructor(fd = 1) {
    this.#fd = fd;
  }

  write(line: string): boolean {
    // At most 3 bytes of UTF-8 per UTF-16 unit (a surrogate pair: 4 bytes for 2 units).
    const room = 3 * line.length;
    if (this.#filled + room > this.#buffer.length) this.#grow(this.#filled + room);
    this.#filled += this.#buffer.write(line, this.#filled, 'utf8');
    if (!this.#writing) this.#schedule();
    return true;
  }

  /** Writes now when a batch is full or someone waits for a flush, else within BATCH_MS. */
  #schedule(): void {
    if (this.#filled >= BATCH_BYTES || this.#flushWaiters.length > 0) this.#writeQueued();
    else if (this.#filled > 0) this.#timer ??= setTimeout(() => this.#writeQueued(), BATCH_MS);
  }

  /** Calls back once every line queued so far is written (pino's logger.flush uses it). */
  flush(callback?: (error?: Error) => void): void {
    if (!this.#writing && this.#filled === 0) {
      callback?.();
      return;
    }
    if (callback) this.#flushWaiters.push(callback);
    if (!this.#writing) this.#writeQueued();
  }

  /** Writes everything queued now, blocking: for exit paths (fatal error, second signal). */
  flushSync(): void {
    let rest = this.#buffer.subarray(0, this.#filled);
    this.#filled = 0;
    for (let attempts = 0; rest.length > 0 && attempts < 1000; attempts++) {
      try {
        rest = rest.subarray(writeSync(this.#fd, rest));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      }
    }
  }

  /** A batch larger than the buffer (a burst while a write is in flight): the buffer doubles. */
  #grow(needed: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(needed, 2 * this.#buffer.length));
    this.#buffer.copy(bigger, 0, 0, this.#filled);
    this.#buffer = bigger;
  }

  #writeQueued(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#filled === 0) {
      this.#settleFlushes();
      return;
    }
    const batch = this.#buffer;
    const length = this.#filled;
    this.#buffer = this.#spare ?? Buffer.allocUnsafe(INITIAL_BUFFER);
    this.#spare = undefined;
    this.#filled = 0;
    this.#writing = true;
    this.#writeRange(batch, 0, length);
  }

  #writeRange(batch: Buffer, offset: number, end: number): void {
    fsWrite(this.#fd, batch, offset, end - offset, null, (error, written) => {
      if (error && error.code === 'EAGAIN') {
        setTimeout(() => this.#writeRange(batch, offset, end), 1);
        return;
      }
      if (!error && offset + written < end) {
        this.#writeRange(batch, offset + written, end);
        return;
      }
      // A failed write (stdout closed) drops that batch: logging must never take the gateway down.
      // A buffer grown by a burst is not kept: the next batches start small again.
      if (batch.length === INITIAL_BUFFER) this.#spare = batch;
      this.#writing = false;
      this.#schedule();
    });
  }

  #settleFlushes(): void {
    const waiters = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
