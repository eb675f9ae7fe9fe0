// Where log lines go: a file descriptor (stdout by default), written asynchronously in
// batches. A busy gateway writes a line per request, so the cost of a line matters:
// lines are only queued as they come, and once per event-loop turn everything queued is
// encoded into one reused buffer and written with one write(2), off the main thread.
// Lines queued while a write is in flight go out together in the next one, so a loaded
// gateway batches more and an idle one writes at once. (pino's own destination measured
// about 5 µs of CPU a line in bench/access-log.ts: a length scan, a string append and a
// bounded write per 16 KB; this writer about a third of that.)
import { write as fsWrite, writeSync } from 'node:fs';
import type { DestinationStream } from 'pino';

const INITIAL_BUFFER = 64 * 1024;

export class LogWriter implements DestinationStream {
  readonly #fd: number;
  #queued: string[] = [];
  #buffer = Buffer.allocUnsafe(INITIAL_BUFFER);
  #writing = false;
  #scheduled = false;
  #flushWaiters: Array<(error?: Error) => void> = [];

  constructor(fd = 1) {
    this.#fd = fd;
  }

  write(line: string): boolean {
    this.#queued.push(line);
    if (!this.#writing && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#writeQueued();
      });
    }
    return true;
  }

  /** Calls back once every line queued so far is written (pino's logger.flush uses it). */
  flush(callback?: (error?: Error) => void): void {
    if (!this.#writing && this.#queued.length === 0) {
      callback?.();
      return;
    }
    if (callback) this.#flushWaiters.push(callback);
    if (!this.#writing && !this.#scheduled) this.#writeQueued();
  }

  /** Writes everything queued now, blocking: for exit paths (fatal error, second signal). */
  flushSync(): void {
    const text = this.#queued.join('');
    this.#queued = [];
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
    if (this.#queued.length === 0) {
      this.#settleFlushes();
      return;
    }
    const text = this.#queued.length === 1 ? this.#queued[0] : this.#queued.join('');
    this.#queued = [];
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
      this.#writeQueued();
    });
  }

  #settleFlushes(): void {
    const waiters = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
