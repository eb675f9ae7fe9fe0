// One log line per kind of repeated event per interval. An outage (Redis gone, an
// upstream refusing connections, the auth service failing, a plugin throwing) fails
// every request the same way; a line each, with a stack trace, would bury everything
// else and fill disks. The first event of a key is logged at once; repeats within the
// interval are only counted, and when the interval ends a timer writes one line with
// the count held back (`suppressed`). While repeats keep coming, that summary is the
// key's one line per interval; an interval without repeats closes the key, and the
// next event is logged at once again.
//
// The summary comes from the key's own timer (unref'd, so it never keeps the process
// up), not from the next event: the count is reported on time even when the storm
// stops, and never attached to an unrelated line.
import { type Schedule, systemSchedule } from '../clock.ts';

/** Writes one line: usually a pino logger's warn or error, bound. */
export type LineWriter = (fields: Record<string, unknown>, message: string) => void;

export interface ThrottledLogOptions {
  readonly intervalMs: number;
  /** Timers; real unref'd ones by default, a fake clock's in tests. */
  readonly schedule?: Schedule;
  /** Keys tracked at once; beyond it, events share one overflow key. Default 1000. */
  readonly maxKeys?: number;
}

interface Window {
  /** Fields and message of the first event, repeated in the summary (without its error and request id: the summary speaks for many). */
  readonly fields: Record<string, unknown>;
  readonly message: string;
  suppressed: number;
  cancel: () => void;
}

const OVERFLOW_KEY = '\0overflow';

export class ThrottledLog {
  readonly #write: LineWriter;
  readonly #intervalMs: number;
  readonly #schedule: Schedule;
  readonly #maxKeys: number;
  readonly #windows = new Map<string, Window>();

  constructor(write: LineWriter, options: ThrottledLogOptions) {
    this.#write = write;
    this.#intervalMs = options.intervalMs;
    this.#schedule = options.schedule ?? systemSchedule;
    this.#maxKeys = options.maxKeys ?? 1000;
  }

  /** Logs the event now if `key` had none this interval, else counts it for the summary. */
  log(key: string, fields: Record<string, unknown>, message: string): void {
    if (!this.#windows.has(key) && this.#windows.size >= this.#maxKeys) key = OVERFLOW_KEY;
    const open = this.#windows.get(key);
    if (open !== undefined) {
      open.suppressed++;
      return;
    }
    this.#write(fields, message);
    const { err: _error, request_id: _request, ...summaryFields } = fields;
    const window: Window = { fields: summaryFields, message, suppressed: 0, cancel: () => {} };
    this.#windows.set(key, window);
    window.cancel = this.#schedule(() => this.#endInterval(key, window), this.#intervalMs);
  }

  /** Writes every pending count now and stops the timers (shutdown). */
  flush(): void {
    for (const [key, window] of this.#windows) {
      window.cancel();
      this.#windows.delete(key);
      if (window.suppressed > 0) this.#summarize(window);
    }
  }

  /** Keys with an open interval (tests, bounds). */
  get size(): number {
    return this.#windows.size;
  }

  #endInterval(key: string, window: Window): void {
    if (window.suppressed === 0) {
      this.#windows.delete(key);
      return;
    }
    this.#summarize(window);
    window.suppressed = 0;
    window.cancel = this.#schedule(() => this.#endInterval(key, window), this.#intervalMs);
  }

  #summarize(window: Window): void {
    this.#write(
      { ...window.fields, suppressed: window.suppressed, interval_ms: this.#intervalMs },
      `${window.message} (repeated)`,
    );
  }
}
