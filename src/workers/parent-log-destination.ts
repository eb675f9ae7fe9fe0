// A worker thread's log destination: lines are batched per event-loop turn and posted
// to the supervisor, which writes them with its own writer. One writer per process
// keeps lines whole and in one stream whatever the destination (file, pipe, terminal).
import type { MessagePort } from 'node:worker_threads';
import type { DestinationStream } from 'pino';

export interface LogMessage {
  readonly type: 'log';
  readonly text: string;
}

export class ParentLogDestination implements DestinationStream {
  readonly #port: MessagePort;
  #queued: string[] = [];
  #scheduled = false;

  constructor(port: MessagePort) {
    this.#port = port;
  }

  write(line: string): boolean {
    this.#queued.push(line);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
    return true;
  }

  /** Posts what is queued now (pino's logger.flush calls it at shutdown). */
  flush(callback?: (error?: Error) => void): void {
    this.#scheduled = false;
    if (this.#queued.length > 0) {
      const message: LogMessage = { type: 'log', text: this.#queued.join('') };
      this.#queued = [];
      this.#port.postMessage(message);
    }
    callback?.();
  }
}
