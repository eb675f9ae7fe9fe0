// Messages between the supervisor and its worker threads.
import type { SharedBuckets } from './shared-bucket-store.ts';

/** What a worker is started with. */
export interface WorkerData {
  readonly configFile: string;
  readonly env: NodeJS.ProcessEnv;
  readonly port: number;
  readonly sharedBuckets: SharedBuckets;
}

/** Supervisor -> worker: every worker is serving (the public /ready may say 200). */
export interface ServeMessage {
  readonly type: 'serve';
}

/** Supervisor -> worker: a call answered by a ResultMessage with the same id. */
export interface CallMessage {
  readonly type: 'call';
  readonly id: number;
  readonly method: 'metrics' | 'status' | 'dashboard' | 'explain' | 'reload' | 'shutdown';
  /** explain: the described request. */
  readonly argument?: unknown;
}

/** Worker -> supervisor. */
export type WorkerMessage =
  | {
      readonly type: 'ready';
      readonly url: string;
      readonly httpsUrl: string | undefined;
      readonly redirectUrl: string | undefined;
    }
  | { readonly type: 'log'; readonly text: string }
  | { readonly type: 'result'; readonly id: number; readonly value?: unknown; readonly error?: string };
