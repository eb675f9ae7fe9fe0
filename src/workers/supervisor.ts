// server.workers > 1: the main thread supervises N worker threads that each serve the
// public port (SO_REUSEPORT: the kernel spreads connections over them), and keeps for
// itself what there must be one of: the admin listener (metrics summed over workers,
// status of every worker, reload), the config file watcher, the log writer, and the
// shared memory of the rate-limit buckets. Reload and drain are sent to every worker;
// a worker that dies is logged and replaced at its position while the others serve.
// The dashboard's state is every worker's merged (admin/merge-state.ts), beside the
// reload history kept here, once per reload.
import { Worker } from 'node:worker_threads';
import {
  AggregatorRegistry,
  collectDefaultMetrics,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from 'prom-client';
import { type DashboardState, gatewayFacts } from '../admin/dashboard-state.ts';
import { adminExposureWarning } from '../admin/exposure.ts';
import { mergeInstances, mergeStates } from '../admin/merge-state.ts';
import type { DescribedRequest, RouteExplanation } from '../admin/route-explainer.ts';
import { ConfigError, type ConfigSource, formatProblem } from '../config/load.ts';
import { watchToReload } from '../config/watch.ts';
import type { Gateway, GatewayOptions, ReloadResult } from '../main.ts';
import { createLoggers, stdoutDestination } from '../observability/logger.ts';
import { prettyDestination } from '../observability/pretty.ts';
import { ownModuleUrl } from '../own-modules.ts';
import { compileFile, type Plan } from '../runtime/compile.ts';
import { ReloadHistory } from '../runtime/reload-history.ts';
import { adminServerFor } from '../server/admin-listener.ts';
import { describeListener } from '../server/listen-address.ts';
import type { WorkerControl, WorkerInfo } from './count.ts';
import type { CallMessage, ServeMessage, WorkerData, WorkerMessage } from './protocol.ts';
import { createSharedBuckets, releaseLockOf } from './shared-bucket-store.ts';

const WORKER_ENTRY = ownModuleUrl('./worker-main.ts', import.meta.url);
/** rate_limit.max_clients's default: the shared table is sized once, at start. */
type MetricJson = MetricObjectWithValues<MetricValue<string>>;

const DEFAULT_MAX_CLIENTS = 1_000_000;
/** Deadline of a metrics, status, dashboard or explain call to a worker. */
const CALL_TIMEOUT_MS = 5000;

export interface SupervisorArgs {
  readonly options: GatewayOptions;
  readonly env: NodeJS.ProcessEnv;
  readonly plan: Plan;
  readonly source: ConfigSource;
  readonly ignoredVariables: readonly string[];
  readonly workerCount: number;
}

interface ReadyUrls {
  readonly url: string;
  readonly httpsUrl: string | undefined;
  readonly redirectUrl: string | undefined;
}

interface Slot {
  readonly index: number;
  readonly worker: Worker;
  readonly threadId: number;
  readonly restarts: number;
  readonly startedAt: number;
  readonly ready: Promise<ReadyUrls>;
  readonly exited: Promise<number>;
  readonly calls: Map<number, { resolve(value: unknown): void; reject(error: Error): void }>;
}

export async function startSupervisor(args: SupervisorArgs): Promise<Gateway> {
  const { options, env, plan, workerCount } = args;
  const config = plan.config;
  const destination =
    config.log.format === 'pretty'
      ? await prettyDestination(options.logDestination)
      : (options.logDestination ?? stdoutDestination());
  const { logger } = createLoggers(config.log.level, destination);
  for (const variable of args.ignoredVariables) {
    logger.warn({ variable }, 'environment variable looks like a config override but names no key; ignored');
  }
  const sharedBuckets = createSharedBuckets(config.rate_limit?.max_clients ?? DEFAULT_MAX_CLIENTS);
  // CPU, memory and event-loop figures are the process's: reported once, from here.
  const processMetrics = new Registry();
  collectDefaultMetrics({ register: processMetrics, prefix: 'gatehouse_' });
  const lifecycle = { ready: false, draining: false };
  const slots: Slot[] = [];
  let port = config.server.port;
  let started = false;
  let stopping = false;
  let nextCallId = 1;
  // Workers that said ready (their calls are answered from then on), and those that exited.
  const answering = new WeakSet<Worker>();
  const gone = new WeakSet<Worker>();

  const spawn = (index: number, restarts: number): Slot => {
    const data: WorkerData = { configFile: options.configFile, env, port, sharedBuckets };
    const worker = new Worker(WORKER_ENTRY, { workerData: data, env });
    const calls: Slot['calls'] = new Map();
    let markReady: (urls: ReadyUrls) => void = () => {};
    let failStart: (error: Error) => void = () => {};
    const ready = new Promise<ReadyUrls>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    ready.catch(() => {}); // observed by whoever awaits it; never unhandled
    let startError: Error | undefined;
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'log') destination.write(message.text);
      else if (message.type === 'ready') {
        answering.add(worker);
        markReady(message);
      } else if (message.type === 'result') {
        const call = calls.get(message.id);
        calls.delete(message.id);
        if (message.error !== undefined) call?.reject(new Error(message.error));
        else call?.resolve(message.value);
      }
    });
    worker.on('error', (error) => {
      startError ??= error;
      logger.error({ err: error, worker: index }, 'worker failed');
    });
    const threadId = worker.threadId;
    const exited = new Promise<number>((resolve) => {
      worker.once('exit', (code) => {
        answering.delete(worker);
        gone.add(worker);
        failStart(startError ?? new Error(`worker ${index} exited (${code}) before serving`));
        for (const call of calls.values()) call.reject(new Error(`worker ${index} exited`));
        calls.clear();
        // A worker cut inside a rate-limit decision must not leave the others locked out.
        releaseLockOf(sharedBuckets, threadId);
        if (started && !stopping && slots[index]?.worker === worker) replace(index, code);
        resolve(code);
      });
    });
    return { index, worker, threadId, restarts, startedAt: Date.now(), ready, exited, calls };
  };

  const replace = (index: number, code: number): void => {
    const dead = slots[index];
    logger.error(
      { worker: index, thread_id: dead.threadId, exit_code: code },
      'worker died; starting a replacement while the others serve',
    );
    // One that dies right after starting waits a little longer each time: no busy loop.
    const quick = Date.now() - dead.startedAt < 1000;
    const delay = quick ? Math.min(10_000, 100 * 2 ** Math.min(dead.restarts, 7)) : 0;
    setTimeout(() => {
      if (stopping) return;
      const next = spawn(index, dead.restarts + 1);
      slots[index] = next;
      next.ready.then(
        () => {
          serve(next);
          logger.info({ worker: index, thread_id: next.threadId }, 'replacement worker serving');
        },
        () => {}, // its exit handler logs and replaces it again
      );
    }, delay);
  };

  const serve = (slot: Slot): void => {
    const message: ServeMessage = { type: 'serve' };
    slot.worker.postMessage(message);
  };

  const call = <T>(
    slot: Slot,
    method: CallMessage['method'],
    timeoutMs?: number,
    argument?: unknown,
  ): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      // Nothing would ever answer: say so now rather than at the deadline (or never).
      if (gone.has(slot.worker)) {
        reject(new Error(`worker ${slot.index} has exited; its replacement is starting`));
        return;
      }
      const id = nextCallId++;
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              slot.calls.delete(id);
              reject(new Error(`worker ${slot.index} did not answer ${method} within ${timeoutMs} ms`));
            }, timeoutMs);
      slot.calls.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      const message: CallMessage = { type: 'call', id, method, argument };
      slot.worker.postMessage(message);
    });

  // The first worker binds the configured port (0 picks one); the others bind the port it got.
  let urls: ReadyUrls;
  try {
    slots[0] = spawn(0, 0);
    urls = await slots[0].ready;
    port = Number(new URL(urls.url).port);
    for (let index = 1; index < workerCount; index++) slots[index] = spawn(index, 0);
    await Promise.all(slots.map((slot) => slot.ready));
  } catch (error) {
    stopping = true;
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
    throw error;
  }
  started = true;

  const metricsJson = async (): Promise<MetricJson[]> => {
    const perWorker = await Promise.all(
      slots.map((slot) => call<MetricJson[]>(slot, 'metrics', CALL_TIMEOUT_MS)),
    );
    return [...(await processMetrics.getMetricsAsJSON()), ...perWorker.flat()] as MetricJson[];
  };
  const summedMetrics = async (): Promise<string> => {
    const perWorker = await Promise.all(
      slots.map((slot) => call<MetricJson[]>(slot, 'metrics', CALL_TIMEOUT_MS)),
    );
    return AggregatorRegistry.aggregate([await processMetrics.getMetricsAsJSON(), ...perWorker]).metrics();
  };
  const status = async () => ({
    workers: await Promise.all(
      slots.map(async (slot) => ({
        index: slot.index,
        thread_id: slot.threadId,
        restarts: slot.restarts,
        ...(await call<Record<string, unknown>>(slot, 'status', CALL_TIMEOUT_MS).catch((error: Error) => ({
          error: error.message,
        }))),
      })),
    ),
  });

  /**
   * Each worker's answer to a call, or undefined for one that did not answer within
   * CALL_TIMEOUT_MS, has exited, or is a replacement not yet started: the others' answers
   * are used and the missing ones counted, so one stuck worker never stalls the page.
   */
  const fromEveryWorker = <T>(method: 'dashboard' | 'explain', argument?: unknown) =>
    Promise.all(
      slots.map((slot) =>
        answering.has(slot.worker)
          ? call<T>(slot, method, CALL_TIMEOUT_MS, argument).catch(() => undefined)
          : undefined,
      ),
    );

  // The dashboard shows the whole gateway: every worker's figures merged (counts summed,
  // percentiles from the summed buckets, an instance healthy only if every worker says
  // so), this thread's reload history (one entry per reload), and how many did not answer.
  const reloads = new ReloadHistory();
  const dashboard = async (): Promise<DashboardState> => {
    const answers = await fromEveryWorker<DashboardState>('dashboard');
    return mergeStates(answers, {
      gateway: gatewayFacts(config, lifecycle, slots.length),
      reloads: reloads.list(),
      now: Date.now(),
    });
  };
  // Routing is explained from the config every worker shares (the first answer's);
  // the instances' health and breakers are merged over the workers, as on the dashboard.
  const explain = async (request: DescribedRequest): Promise<RouteExplanation> => {
    const answers = await fromEveryWorker<RouteExplanation>('explain', request);
    const first = answers.find((answer) => answer !== undefined);
    if (first === undefined) throw new Error(`no worker answered within ${CALL_TIMEOUT_MS} ms`);
    return {
      ...first,
      instances: mergeInstances(answers.map((answer) => answer?.instances)),
      workersMissing: answers.filter((answer) => answer === undefined).length,
    };
  };

  let reloadQueue: Promise<unknown> = Promise.resolve();
  /** The config of the last reload every worker applied: what the next one is described against. */
  let applied = config;
  const reloadOnce = async (): Promise<ReloadResult> => {
    // Checked once here, so a bad file is refused with one answer, not N.
    let next: Plan;
    try {
      next = (await compileFile(options.configFile, env)).plan;
    } catch (error) {
      const errors =
        error instanceof ConfigError
          ? error.problems.map((p) => formatProblem(error.file, p))
          : [String(error)];
      logger.error({ errors }, 'configuration reload failed; the running configuration stays in force');
      reloads.failed(errors);
      return { ok: false, errors };
    }
    const results = await Promise.all(
      slots.map((slot) =>
        call<ReloadResult>(slot, 'reload').catch(
          (error: Error): ReloadResult => ({ ok: false, errors: [error.message] }),
        ),
      ),
    );
    const refused = results.flatMap((result, index) =>
      result.ok ? [] : (result.errors ?? ['refused']).map((error) => `worker ${index}: ${error}`),
    );
    if (refused.length > 0) reloads.failed(refused);
    else {
      const restartRequired = [...new Set(results.flatMap((result) => result.restartRequired ?? []))];
      reloads.succeeded(applied, next.config, restartRequired);
      applied = next.config;
    }
    return results.find((result) => !result.ok) ?? results[0];
  };
  const reload = (): Promise<ReloadResult> => {
    const run = reloadQueue.then(reloadOnce);
    reloadQueue = run;
    return run;
  };

  const adminServer = adminServerFor(config.admin, {
    metrics: { registry: { metrics: summedMetrics, contentType: processMetrics.contentType } },
    lifecycle,
    status,
    reload,
    state: dashboard,
    explain,
  });
  const exposure = adminExposureWarning(config);
  if (exposure) logger.warn(exposure);
  if (adminServer) {
    try {
      await new Promise<void>((resolve, reject) => {
        adminServer.once('error', reject);
        adminServer.listen(config.admin.port, config.admin.host, () => resolve());
      });
    } catch (error) {
      stopping = true;
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
      throw new ConfigError(args.source.file, [
        {
          path: 'admin.port',
          message: `${config.admin.host}:${config.admin.port} cannot be listened on (${(error as Error).message})`,
          ...args.source.locate(['admin', 'port']),
        },
      ]);
    }
  }
  lifecycle.ready = true;
  for (const slot of slots) serve(slot);
  const watcher = options.watch === false ? undefined : watchToReload(options.configFile, reload, logger);
  const adminAddress = adminServer && describeListener(adminServer);
  logger.info(
    {
      url: urls.url,
      https_url: urls.httpsUrl,
      redirect_url: urls.redirectUrl,
      admin_url: adminAddress?.url,
      listening: urls.url,
      admin_listening: adminAddress?.description,
      routes: config.routes.length,
      workers: workerCount,
    },
    'gateway listening',
  );

  let stoppingPromise: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stoppingPromise ??= (async () => {
      stopping = true;
      lifecycle.draining = true;
      watcher?.close();
      logger.info({ workers: slots.length }, 'draining every worker');
      // Each worker drains within server.shutdown_timeout, then exits.
      await Promise.all(
        slots.map(async (slot) => {
          await call(slot, 'shutdown').catch(() => {});
          await slot.exited;
        }),
      );
      adminServer?.closeAllConnections();
      adminServer?.close();
      logger.info('gateway stopped');
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
    })();
    return stoppingPromise;
  };

  const workers: WorkerControl = {
    list: (): WorkerInfo[] =>
      slots.map((slot) => ({ index: slot.index, threadId: slot.threadId, restarts: slot.restarts })),
    terminate: async (index) => {
      await slots[index]?.worker.terminate();
    },
  };

  return {
    url: urls.url,
    httpsUrl: urls.httpsUrl,
    redirectUrl: urls.redirectUrl,
    adminUrl: adminAddress?.url,
    logger,
    config,
    reload,
    shutdown,
    metricsJson,
    status,
    dashboard,
    explain,
    workers,
  };
}
