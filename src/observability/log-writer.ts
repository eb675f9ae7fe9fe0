// Where log lines go: a file descriptor (stdout by default), written asynchronously in
// batches. A busy gateway writes a line per request, so the cost of a line matters:
// lines are only queued as they come, and at most BATCH_MS later (or once BATCH_BYTES
// are queued) everything queued is encoded into one reused buffer and written with one
// write(2), off the main thread. Each write costs a trip through libuv's thread pool
// whatever its size, so writes are few: a batch per event-loop turn meant thousands of
// writes a second under load (7% of the gateway's CPU in the whole-chain profile).
// Lines queued while a write is in flight go out together in the next one. (pino's own
// destination measured about 5 µs of CPU a line in bench/access-log.ts: a length scan, a
// string append and a bounded write per 16 KB; this writer about a third of that.)
import { write as fsWrite, writeSync } from 'node:fs';
import type { DestinationStream } from 'pino';

const INITIAL_BUFFER = 64 * 1024;
/** How long a line may wait for company: short enough that a log tail feels live. */
export const BATCH_MS = 20;
export const BATCH_BYTES = 64 * 1024;

export class LogWriter implements DestinationStream {
  readonly #fd: number;
  #queued: string[] = [];
  #queuedLength = 0;
  #timer: NodeJS.Timeout | undefined;
  #buffer = Buffer.allocUnsafe(INITIAL_BUFFER);
  #writing = false;
  #flushWaiters: Array<(error?: Error) => void> = [];

  constructor(fd = 1) {
    this.#fd = fd;
  }

  write(line: string): boolean {
    this.#queued.push(line);
    this.#queuedLength += line.length;
    if (!this.#writing) this.#schedule();
    return true;
  }

  /** Writes now when a batch is full or someone waits for a flush, else within BATCH_MS. */
  #schedule(): void {
    if (this.#queuedLength >= BATCH_BYTES || this.#flushWaiters.length > 0) this.#writeQueued();
    else if (this.#queued.length > 0) this.#timer ??= setTimeout(() => this.#writeQueued(), BATCH_MS);
  }

  /** Calls back once every line queued so far is written (pino's logger.flush uses it). */
  flush(callback?: (error?: Error) => void): void {
    if (!this.#writing && this.#queued.length === 0) {
      callback?.();
      return;
    }
    if (callback) this.#flushWaiters.push(callback);
    if (!this.#writing) this.#writeQueued();
  }

  /** Writes everything queued now, blocking: for exit paths (fatal error, second signal). */
  flushSync(): void {
    const text = this.#queued.join('');
    this.#queued = [];
    this.#queuedLength = 0;
    let rest = Buffer.from(text, 'utf8');
    for (let attempts = 0; rest.length > 0 && attempts < 1000; attempts++) {
      try {
        rest = rest.subarray(writeSync(this.#fd, rest));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      }
    }
  }

  #writeQueued(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#queued.length === 0) {
      this.#settleFlushes();
      return;
    }
    const text = this.#queued.length === 1 ? this.#queued[0] : this.#queued.join('');
    this.#queued = [];
    this.#queuedLength = 0;
    // One encoding into a buffer that grows to the largest batch seen and is then reused.
    const needed = Buffer.byteLength(text, 'utf8');
    if (needed > this.#buffer.length)
      this.#buffer = Buffer.allocUnsafe(Math.max(needed, 2 * this.#buffer.length));
    const length = this.#buffer.write(text, 0, 'utf8');
    this.#writing = true;
    this.#writeRange(0, length);
  }

  #writeRange(offset: number, end: number): void {
    fsWrite(this.#fd, this.#buffer, offset, end - offset, null, (error, written) => {
      if (error && error.code === 'EAGAIN') {
        setTimeout(() => this.#writeRange(offset, end), 1);
        return;
      }
      if (!error && offset + written < end) {
        this.#writeRange(offset + written, end);
        return;
      }
      // A failed write (stdout closed) drops that batch: logging must never take the gateway down.
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
