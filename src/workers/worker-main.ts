// Entry of a worker thread of server.workers: one gateway serving the public port
// (bound with SO_REUSEPORT beside the other workers'), with the shared rate-limit
// buckets, its logs posted to the supervisor, and no admin listener or file watcher:
// the supervisor holds those and calls in here for metrics, status, reload and drain.
import { parentPort, workerData } from 'node:worker_threads';
import type { DescribedRequest } from '../admin/route-explainer.ts';
import { startGateway } from '../main.ts';
import { ParentLogDestination } from './parent-log-destination.ts';
import type { CallMessage, ServeMessage, WorkerData, WorkerMessage } from './protocol.ts';

const port = parentPort!;
const data = workerData as WorkerData;
const post = (message: WorkerMessage) => port.postMessage(message);
const destination = new ParentLogDestination(port);
let markServing: () => void = () => {};
const serving = new Promise<void>((resolve) => {
  markServing = resolve;
});
// Registered before the gateway starts: the supervisor may say "serve" as soon as we are
// ready, and a call (reload, shutdown) may reach a replacement worker while it starts:
// it is answered once the gateway is up rather than dropped (and waited for forever).
let calls: CallMessage[] | ((message: CallMessage) => void) = [];
port.on('message', (message: ServeMessage | CallMessage) => {
  if (message.type === 'serve') markServing();
  else if (Array.isArray(calls)) calls.push(message);
  else calls(message);
});

const gateway = await startGateway({
  configFile: data.configFile,
  env: data.env,
  logDestination: destination,
  watch: false,
  worker: { sharedBuckets: data.sharedBuckets, port: data.port, serving },
});

// A thrown error outside any request leaves this worker in an unknown state: log it and
// let the thread die; the supervisor replaces it while the other workers serve.
process.on('uncaughtException', (error) => {
  gateway.logger.fatal({ err: error }, 'uncaught exception in a worker; it exits and is replaced');
  destination.flush();
  process.exit(1);
});
process.on('unhandledRejection', (reason) => gateway.logger.error({ err: reason }, 'unhandled rejection'));

const answerCall = (message: CallMessage): void => {
  const answer = async (): Promise<unknown> => {
    switch (message.method) {
      case 'metrics':
        return gateway.metricsJson();
      case 'status':
        return gateway.status();
      case 'dashboard':
        return gateway.dashboard();
      case 'explain':
        return gateway.explain(message.argument as DescribedRequest);
      case 'reload':
        return gateway.reload();
      case 'shutdown':
        await gateway.shutdown();
        return undefined;
    }
  };
  answer().then(
    (value) => {
      post({ type: 'result', id: message.id, value });
      if (message.method === 'shutdown') {
        destination.flush();
        // Leftover handles (a retiring pool) must not keep a drained worker alive.
        setImmediate(() => process.exit(0));
      }
    },
    (error: unknown) => post({ type: 'result', id: message.id, error: String(error) }),
  );
};
const early = calls;
calls = answerCall;
for (const message of early) answerCall(message);

post({ type: 'ready', url: gateway.url, httpsUrl: gateway.httpsUrl, redirectUrl: gateway.redirectUrl });
