// Composition root: config, logger, metrics, registry, runtime, listeners, reload and
// shutdown. Tests start gateways through startGateway exactly as the CLI does.
// Start is compile then apply, like every reload (runtime/compile.ts, runtime/apply.ts).
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { DestinationStream } from 'pino';
import { type DashboardState, dashboardState } from './admin/dashboard-state.ts';
import { adminExposureWarning } from './admin/exposure.ts';
import { type DescribedRequest, explainRoute, type RouteExplanation } from './admin/route-explainer.ts';
import { ConfigError, type ConfigSource } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { watchToReload } from './config/watch.ts';
import { createLoggers, type Logger } from './observability/logger.ts';
import { GatewayMetrics } from './observability/metrics.ts';
import { prettyDestination } from './observability/pretty.ts';
import { loadTracer, type RequestTracer } from './observability/tracing.ts';
import { apply } from './runtime/apply.ts';
import { compileFile } from './runtime/compile.ts';
import { RuntimeHolder } from './runtime/holder.ts';
import { GatewayRegistry } from './runtime/registry.ts';
import { createReloader, type ReloadResult } from './runtime/reload.ts';
import { ReloadHistory } from './runtime/reload-history.ts';
import { adminServerFor } from './server/admin-listener.ts';
import { createDataPlane } from './server/data-plane.ts';
import { DEFAULT_IDLE_GRACE_MS, drainListener } from './server/drain.ts';
import { describeListener } from './server/listen-address.ts';
import { PublicListeners } from './server/public-listeners.ts';
import type { PublicListener } from './server/tls-listener.ts';
import { createUpgradeHandler, shouldTunnel, type UpgradeHandler } from './server/upgrade.ts';
import { resolveWorkerCount, type WorkerControl } from './workers/count.ts';
import type { SharedBuckets } from './workers/shared-bucket-store.ts';

export interface GatewayOptions {
  readonly configFile: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Where logs go (stdout by default); tests pass a stream to read them. */
  readonly logDestination?: DestinationStream;
  /** DNS servers for discovery, for tests that run their own. */
  readonly dnsServers?: readonly string[];
  /** Reload when the config file changes (default true). */
  readonly watch?: boolean;
  /** Set by the supervisor in each worker thread of server.workers (workers/worker-main.ts). */
  readonly worker?: WorkerRole;
}

/** What a worker thread's gateway does differently: shared buckets, a given port, no admin listener. */
export interface WorkerRole {
  readonly sharedBuckets: SharedBuckets;
  /** The public port every worker binds (SO_REUSEPORT): the first worker's, once it has one. */
  readonly port: number;
  /** Resolves when the supervisor has every worker serving: /ready says 200 only from then on. */
  readonly serving: Promise<void>;
}

export type { ReloadResult } from './runtime/reload.ts';

export interface ShutdownOptions {
  /**
   * How long a keep-alive connection that was idle when draining began may stay idle
   * before it is closed (default 1 s): a client in a request loop sends its next
   * request within it and gets `Connection: close` instead of a reset. Tests that
   * end a gateway with nothing in flight pass 0.
   */
  readonly idleGraceMs?: number;
}

export interface Gateway {
  /** The listener on server.port: https:// when that port speaks TLS. */
  readonly url: string;
  /** The HTTPS listener, when server.tls is set. */
  readonly httpsUrl: string | undefined;
  /** The 308 listener of server.redirect_http_port. */
  readonly redirectUrl: string | undefined;
  readonly adminUrl: string | undefined;
  readonly logger: Logger;
  readonly config: Config;
  reload(): Promise<ReloadResult>;
  /** Drains and stops: readiness goes 503, in-flight requests finish, then everything closes. */
  shutdown(options?: ShutdownOptions): Promise<void>;
  /** The metrics as prom-client JSON (what the supervisor sums over workers). */
  metricsJson(): Promise<unknown[]>;
  /** What GET /status answers. */
  status(): unknown;
  /**
   * What the dashboard's GET /api/state answers. With server.workers above 1: every
   * worker's state merged by the supervisor (admin/merge-state.ts); in a worker, its own.
   */
  dashboard(): DashboardState | Promise<DashboardState>;
  /**
   * What /debug/route answers for a described request. With server.workers above 1: the
   * routing from the config the workers share, the instances merged over the workers.
   */
  explain(request: DescribedRequest): RouteExplanation | Promise<RouteExplanation>;
  /** With server.workers > 1: the worker threads (for operations and tests). */
  readonly workers?: WorkerControl;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const env = options.env ?? process.env;
  const { plan, ignoredVariables, source } = await compileFile(options.configFile, env);
  const config = plan.config;
  const workerCount = resolveWorkerCount(config.server.workers);
  if (workerCount > 1 && !options.worker) {
    const { startSupervisor } = await import('./workers/supervisor.ts');
    return startSupervisor({ options, env, plan, source, ignoredVariables, workerCount });
  }
  const destination =
    config.log.format === 'pretty' ? await prettyDestination(options.logDestination) : options.logDestination;
  const { logger, accessLog } = createLoggers(config.log.level, destination);
  for (const warning of plan.tlsWarnings) logger.warn({ path: warning.path }, warning.message);
  for (const variable of ignoredVariables) {
    logger.warn({ variable }, 'environment variable looks like a config override but names no key; ignored');
  }

  let metrics: GatewayMetrics | undefined;
  const registry = new GatewayRegistry(
    logger,
    () => metrics,
    options.dnsServers,
    options.worker?.sharedBuckets,
  );
  metrics = new GatewayMetrics(registry.upstreams, { processMetrics: !options.worker });
  // Loaded before apply: a tracer that fails to load must leave nothing running.
  const tracer = await loadTracer(config.tracing, (outcome, count) => metrics!.spans(outcome, count));
  const holder = new RuntimeHolder();
  apply(plan, registry, holder);
  metrics.watchSnapshots(() => holder.retiringCount);
  const lifecycle = { ready: false, draining: false };

  const tunnels = createUpgradeHandler({ holder, logger, accessLog, metrics });
  const reloads = new ReloadHistory();
  const listeners = new PublicListeners(
    config,
    plan.tls.server,
    {
      request: createDataPlane({ holder, logger, accessLog, metrics, lifecycle, tracer }),
      shouldUpgrade: shouldTunnel(holder),
      upgrade: tunnels.handle,
    },
    { logger, metrics, watch: options.watch !== false },
  );
  const reload = createReloader({
    configFile: options.configFile,
    env,
    started: config,
    registry,
    holder,
    metrics,
    logger,
    history: reloads,
    onApplied: (next) => {
      for (const warning of next.tlsWarnings) logger.warn({ path: warning.path }, warning.message);
      listeners.applyConfig(next.config, next.tls.server);
    },
  });

  const dashboard = () =>
    dashboardState({
      runtime: () => holder.current,
      metrics: metrics!,
      upstreams: () => registry.upstreams.status(),
      reloads,
      lifecycle,
    });
  const explain = (request: DescribedRequest) =>
    explainRoute(holder.current, request, (service) => registry.upstreams.status()[service] ?? []);
  // A worker serves the public port only; the supervisor holds the admin listener.
  const adminServer = options.worker
    ? undefined
    : adminServerFor(config.admin, {
        metrics,
        lifecycle,
        status: () => ({ services: registry.upstreams.status() }),
        reload,
        state: dashboard,
        explain,
      });
  const exposure = adminExposureWarning(config);
  if (exposure) logger.warn(exposure);

  try {
    // A worker binds every public port with reusePort beside the other workers; server.port
    // is the one the first worker got (server.port: 0 picks it once for all).
    const worker = options.worker;
    await listeners.listen((server, port, key) =>
      listen(
        server,
        {
          port: worker && key.join('.') === 'server.port' ? worker.port : port,
          host: config.server.host,
          reusePort: worker !== undefined,
        },
        key,
        source,
      ),
    );
    if (adminServer) await listen(adminServer, config.admin, ['admin', 'port'], source);
  } catch (error) {
    listeners.close();
    for (const listener of listeners.all) listener.close();
    adminServer?.close();
    await registry.close();
    await tracer?.shutdown();
    throw error;
  }
  // Health-checked instances wait for their first probe (at most one probe timeout):
  // readiness says 200 only once traffic has somewhere to go.
  await registry.upstreams.ready();
  // A worker's /ready waits for the whole gateway: every worker started, the admin listening.
  if (options.worker) void options.worker.serving.then(() => (lifecycle.ready = true));
  else lifecycle.ready = true;
  const watcher = options.watch === false ? undefined : watchToReload(options.configFile, reload, logger);
  const publicAddress = describeListener(listeners.primary as Server, listeners.primaryScheme);
  const adminAddress = adminServer && describeListener(adminServer);
  const url = publicAddress.url;
  const adminUrl = adminAddress?.url;
  logger.info(
    {
      url,
      admin_url: adminUrl,
      https_url: listeners.httpsUrl,
      redirect_url: listeners.redirectUrl,
      listening: publicAddress.description,
      admin_listening: adminAddress?.description,
      routes: config.routes.length,
    },
    options.worker ? 'worker listening' : 'gateway listening',
  );

  let stopping: Promise<void> | undefined;
  const shutdown = (options: ShutdownOptions = {}): Promise<void> => {
    watcher?.close();
    listeners.close();
    stopping ??= drain(
      listeners.all,
      adminServer,
      tunnels,
      registry,
      holder,
      lifecycle,
      holder.current.config.server.shutdown_timeout,
      options.idleGraceMs ?? DEFAULT_IDLE_GRACE_MS,
      logger,
      tracer,
    );
    return stopping;
  };

  return {
    url,
    httpsUrl: listeners.httpsUrl,
    redirectUrl: listeners.redirectUrl,
    adminUrl,
    logger,
    get config() {
      return holder.current.config;
    },
    reload,
    shutdown,
    metricsJson: () => metrics.registry.getMetricsAsJSON(),
    status: () => ({ services: registry.upstreams.status() }),
    dashboard,
    explain,
  };
}

async function drain(
  publicServers: readonly PublicListener[],
  adminServer: Server | undefined,
  tunnels: UpgradeHandler,
  registry: GatewayRegistry,
  holder: RuntimeHolder,
  lifecycle: { draining: boolean },
  timeoutMs: number,
  idleGraceMs: number,
  logger: Logger,
  tracer: RequestTracer | null,
): Promise<void> {
  lifecycle.draining = true;
  logger.info({ timeout_ms: timeoutMs }, 'draining: no new connections, finishing in-flight requests');
  // Answers in flight close their connections; idle ones are closed once truly idle.
  // HTTP/2 connections get GOAWAY from close(): their open streams finish, no new ones start.
  const draining = publicServers.map((server) => drainListener(server, idleGraceMs));
  const closed = Promise.all(draining.map((listener) => listener.closed));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const result = await Promise.race([closed.then(() => 'drained' as const), deadline]);
  for (const listener of draining) listener.stop();
  clearTimeout(timer);
  if (result === 'timeout') {
    logger.warn('shutdown deadline reached: closing the remaining connections');
    for (const server of publicServers) server.closeAllConnections();
    tunnels.destroyAll();
  }
  adminServer?.closeAllConnections();
  adminServer?.close();
  // Requests cut at the deadline never released their snapshot: retire what it held now.
  holder.retireAll();
  await registry.close();
  // Spans still queued go out now; the exporter's own timeout bounds the wait.
  await tracer
    ?.shutdown()
    .catch((error: unknown) => logger.warn({ err: error }, 'span export at shutdown failed'));
  logger.info('gateway stopped');
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
}

/**
 * Binds a listener. A port that cannot be had (in use, not allowed) is the operator's
 * to fix in the config, so it is reported as a problem of the key that chose it.
 */
async function listen(
  server: Server | PublicListener,
  address: { readonly port: number; readonly host: string; readonly reusePort?: boolean },
  key: readonly string[],
  source: ConfigSource,
): Promise<void> {
  // reusePort: every worker thread binds the same port and the kernel spreads connections.
  server.listen({ port: address.port, host: address.host, reusePort: address.reusePort === true });
  try {
    await once(server, 'listening');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE'
        ? 'is already in use'
        : code === 'EACCES'
          ? 'may not be bound by this user'
          : code === 'EADDRNOTAVAIL'
            ? 'names an address this host does not have'
            : `cannot be listened on (${(error as Error).message})`;
    throw new ConfigError(source.file, [
      { path: key.join('.'), message: `${address.host}:${address.port} ${why}`, ...source.locate(key) },
    ]);
  }
}
