// A worker thread's log destination: lines are batched and posted to the supervisor,
// which writes them with its own writer. One writer per process keeps lines whole and in
// one stream whatever the destination (file, pipe, terminal). A batch goes out as the log
// writer's do (log-writer.ts): after BATCH_MS or at BATCH_BYTES, since a postMessage per
// event-loop turn cost each worker about 8% of its CPU under load.
import type { MessagePort } from 'node:worker_threads';
import type { DestinationStream } from 'pino';
import { BATCH_BYTES, BATCH_MS } from '../observability/log-writer.ts';

export interface LogMessage {
  readonly type: 'log';
  readonly text: string;
}

export class ParentLogDestination implements DestinationStream {
  readonly #port: MessagePort;
  #queued: string[] = [];
  #queuedLength = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(port: MessagePort) {
    this.#port = port;
  }

  write(line: string): boolean {
    this.#queued.push(line);
    this.#queuedLength += line.length;
    if (this.#queuedLength >= BATCH_BYTES) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), BATCH_MS);
    return true;
  }

  /** Posts what is queued now (pino's logger.flush calls it at shutdown). */
  flush(callback?: (error?: Error) => void): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#queued.length > 0) {
      const message: LogMessage = { type: 'log', text: this.#queued.join('') };
      this.#queued = [];
      this.#queuedLength = 0;
      this.#port.postMessage(message);
    }
    callback?.();
  }
}
