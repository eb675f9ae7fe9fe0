// `npm run bench`: the upstream, then each scenario's process in turn, each loaded by
// wrk (or autocannon) in a separate process; prints the tables and writes .bench/last.json.
// Per row and round: time to ready from process start, idle RSS, then (rows marked
// fixedRate) a warm-up at the first fixed rate, the fixed-rate latency runs with their
// RSS, then warm-up and the saturation run with its peak RSS and CPU time per request.
// Settings: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (50), BENCH_WARMUP (s, 3),
// BENCH_ROUNDS (1; with more, rows are interleaved round by round and the median kept),
// BENCH_ONLY (comma-separated parts of row names, e.g. "bare,gateway"; "=name" is that
// row alone, its commas left out: "=gateway whole chain"), BENCH_RATES
// (req/s of the fixed-rate runs, default "1000,2000"; "" turns them off), BENCH_RATE_WARMUP
// (s at the first rate before them, default 15; 0 measures a cold process), BENCH_LOADER,
// BENCH_PIN, BENCH_PROFILE, BENCH_NODE_FLAGS, BENCH_NODE_ENV (see load.ts, pin.ts, scenarios.ts).

import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, fetch as undiciFetch } from 'undici';
import { type Child, cpuSeconds, isRunning, rssMb, startProcess, stop, stopAll } from './children.ts';
import { runFixedRate } from './fixed-rate-run.ts';
import { Fixtures } from './fixtures.ts';
import { grpcProbe } from './grpc-request.ts';
import { loader, runGrpcLoad, runH2Load, runLoad as runHttp1Load } from './load.ts';
import { installed } from './native-proxies.ts';
import { freePort, waitFor200 } from './net.ts';
import { pinned, pinningNote } from './pin.ts';
import {
  compareToBaseline,
  type FixedRateResult,
  fixedRateMarkdown,
  fixedRateTable,
  type Measurement,
  markdown,
  median,
  type RowResult,
  RssSampler,
  type RunInfo,
  table,
  writeJson,
} from './report.ts';
import { type BenchContext, JEMALLOC, PATH, SCENARIOS, type Scenario } from './scenarios.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORK = join(ROOT, '.bench');
const durationS = Number(process.env.BENCH_DURATION ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
// A freshly started Node proxy spends its first seconds at saturation compiling its hot
// path on V8's helper threads, and the more code, the longer: in 5 s windows of one
// process (docs/PERFORMANCE.md, "Warm-up"), the whole chain's first window cost 83 CPU
// µs per request (13 of them on V8's threads) and its fifth 63; the bare proxy 59, then
// 53. The saturation figures are those of a warm process, as the latency ones are.
const warmupS = Number(process.env.BENCH_WARMUP ?? 15);
const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 1));
const only = process.env.BENCH_ONLY?.split(',').map((part) => part.trim().toLowerCase());
const rates = (process.env.BENCH_RATES ?? '1000,2000')
  .split(',')
  .map((rate) => Number(rate.trim()))
  .filter((rate) => rate > 0);
// V8 optimizes a proxy's hot path over its first ~10,000 requests, and on a pinned core
// its compiler threads take turns with the event loop: stalls of 10-20 ms, 8-11 s after
// start at 1,000 req/s (docs/PERFORMANCE.md, "Fixed-rate mode"). The latency figures are
// those of a warm process; BENCH_RATE_WARMUP=0 shows the cold one.
const rateWarmupS = Number(process.env.BENCH_RATE_WARMUP ?? 15);

const fixtures = new Fixtures(ROOT, WORK);
const log = (message: string) => console.error(`bench: ${message}`);
const slug = (name: string) => name.replace(/\W+/g, '-').replace(/^-|-$/g, '');

/** Fails the row unless the target answers 2xx: a fast stream of 404s is not a result. */
/** The HTTPS rows' gateways serve a certificate made for the run: the probe does not verify it. */
const benchTls = new Agent({ connect: { rejectUnauthorized: false } });

async function probe(url: string, headers: Record<string, string>): Promise<void> {
  const res = await undiciFetch(url, { headers, signal: AbortSignal.timeout(5000), dispatcher: benchTls });
  const body = await res.text();
  if (res.status < 200 || res.status > 299) {
    throw new Error(`probe ${url} answered ${res.status}: ${body.slice(0, 200)}`);
  }
}

/** One round of one row: start its process, warm up, measure, stop it. */
async function measure(scenario: Scenario, upstream: Child, upstreamUrl: string): Promise<Measurement> {
  const ctx: BenchContext = {
    root: ROOT,
    workDir: WORK,
    upstreamUrl,
    port: await freePort(),
    adminPort: await freePort(),
    fixtures,
  };
  let target = upstream;
  let url = `${upstreamUrl}${PATH}`;
  let readyMs: number | undefined;
  if (scenario.direct) {
    const direct = await scenario.direct(ctx);
    target = direct.child;
    url = direct.url;
  }
  if (scenario.launch) {
    const launch = await scenario.launch(ctx);
    const logFile = join(WORK, `${slug(scenario.name)}.log`);
    const [command, args] = pinned(
      scenario.placement ?? 'under-test',
      launch.command ?? process.execPath,
      launch.args,
    );
    const spawnedAt = performance.now();
    target = startProcess(scenario.name, command, args, { env: launch.env, logFile, cwd: ROOT });
    // Polled every 5 ms: the time to ready is one of the figures.
    await waitFor200(launch.readyUrl, target, 20_000, 5).catch((error: Error) => {
      throw new Error(`${error.message} (log: ${logFile})`);
    });
    readyMs = performance.now() - spawnedAt;
    url = launch.url ?? `http://127.0.0.1:${ctx.port}${PATH}`;
  }
  try {
    const headers = (await scenario.headers?.(ctx)) ?? {};
    if (scenario.protocol === 'grpc') await grpcProbe(url);
    else await probe(url, headers);
    const pid = target.process.pid!;
    const idleRssMb = rssMb(pid);
    const fixedRate: FixedRateResult[] = [];
    if (scenario.fixedRate && rates.length > 0) {
      if (rateWarmupS > 0) {
        log(`${scenario.name}: warming up at ${rates[0]} req/s for ${rateWarmupS}s`);
        await runFixedRate({ url, rate: rates[0], durationS: rateWarmupS, warmupS: 0, connections, headers });
      }
      for (const rate of rates) {
        log(`${scenario.name}: ${rate} req/s for ${durationS}s after ${warmupS}s`);
        const sampler = new RssSampler(pid);
        const result = await runFixedRate({ url, rate, durationS, warmupS, connections, headers });
        fixedRate.push({ ...result, rssMb: sampler.stop() });
      }
    }
    log(
      `${scenario.name}: warm-up ${warmupS}s, then ${durationS}s at ${connections} connections (${scenario.protocol ? `bench/${scenario.protocol}-load.ts` : loader})`,
    );
    const runLoad =
      scenario.protocol === 'h2' ? runH2Load : scenario.protocol === 'grpc' ? runGrpcLoad : runHttp1Load;
    if (warmupS > 0) await runLoad({ url, connections, durationS: warmupS, headers });
    const cpuBefore = cpuSeconds(pid);
    const sampler = new RssSampler(pid);
    const started = performance.now();
    const load = await runLoad({ url, connections, durationS, headers });
    const elapsedS = (performance.now() - started) / 1000;
    const cpuAfter = cpuSeconds(pid);
    const peakRssMb = sampler.stop();
    if (!isRunning(target)) throw new Error(`${target.name} exited during the run`);
    const cpuUsed = cpuBefore === undefined || cpuAfter === undefined ? undefined : cpuAfter - cpuBefore;
    return {
      ...load,
      readyMs,
      idleRssMb,
      rssMb: peakRssMb,
      cpuPercent: cpuUsed === undefined ? undefined : (100 * cpuUsed) / elapsedS,
      cpuUsPerRequest:
        cpuUsed === undefined || load.requests === 0 ? undefined : (cpuUsed * 1e6) / load.requests,
      fixedRate,
      load1: loadavg()[0],
    };
  } finally {
    if (scenario.launch) await stop(target);
  }
}

async function main(): Promise<number> {
  mkdirSync(WORK, { recursive: true });
  // The gateway rows run what the image runs: the build in dist/, made fresh from src/.
  log('building dist/ (npm run build)');
  execFileSync(process.execPath, [join(ROOT, 'scripts/build.ts')], { cwd: ROOT, stdio: 'inherit' });
  const scenarios = SCENARIOS.filter(
    (s) =>
      !only ||
      only.some((part) =>
        part.startsWith('=')
          ? s.name.toLowerCase().replaceAll(',', '') === part.slice(1)
          : s.name.toLowerCase().includes(part),
      ),
  );
  const info: RunInfo = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    connections,
    durationS,
    warmupS,
    rounds,
    loader,
    pinning: pinningNote(),
    rates,
    rateWarmupS,
    allocator: JEMALLOC ? `jemalloc (${JEMALLOC})` : 'glibc malloc: libjemalloc2 is not installed',
    loadBefore: loadavg()[0],
  };
  log(`${scenarios.length} rows x ${rounds} round(s) on ${info.cpus}, loader ${loader}; ${pinningNote()}`);
  if (!JEMALLOC) {
    log(
      "WARNING: libjemalloc2 is not installed: the gateway rows run on glibc's malloc, not the image's jemalloc (apt-get install libjemalloc2)",
    );
  }
  if (info.loadBefore > cpus().length / 2) {
    log(
      `warning: 1-minute load average is already ${info.loadBefore.toFixed(1)}: other work will skew the figures`,
    );
  }

  const upstreamPort = await freePort();
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
  const [upstreamCommand, upstreamArgs] = pinned('others', process.execPath, ['bench/upstream.ts']);
  const upstream = startProcess('upstream', upstreamCommand, upstreamArgs, {
    env: { PORT: String(upstreamPort) },
    logFile: join(WORK, 'upstream.log'),
    cwd: ROOT,
  });
  await waitFor200(`${upstreamUrl}/`, upstream);

  // Round by round rather than row by row, so a burst of outside load spreads over all rows.
  const runs = new Map<Scenario, Measurement[]>(scenarios.map((s) => [s, []]));
  const failures = new Map<Scenario, string>();
  const skipped = new Map<Scenario, string>();
  for (const scenario of scenarios) {
    if (scenario.requires && !installed(scenario.requires)) {
      skipped.set(scenario, `${scenario.requires} is not installed`);
      log(`${scenario.name}: skipped, ${scenario.requires} is not installed`);
    }
  }
  for (let round = 1; round <= rounds; round++) {
    if (rounds > 1) log(`round ${round} of ${rounds}`);
    for (const scenario of scenarios) {
      if (interrupted) return 130;
      if (failures.has(scenario) || skipped.has(scenario)) continue;
      try {
        runs.get(scenario)!.push(await measure(scenario, upstream, upstreamUrl));
      } catch (error) {
        log(`${scenario.name} failed: ${(error as Error).message}`);
        failures.set(scenario, (error as Error).message);
      }
    }
  }

  const rows: RowResult[] = scenarios.map((scenario) => {
    const row = { name: scenario.name, what: scenario.what, baseline: scenario.baseline ?? false };
    const skip = skipped.get(scenario);
    if (skip) return { ...row, skipped: skip };
    const error = failures.get(scenario);
    return error ? { ...row, error } : { ...row, ...median(runs.get(scenario)!) };
  });
  compareToBaseline(rows);
  info.loadAfter = loadavg()[0];

  const jsonFile = join(WORK, 'last.json');
  writeJson(jsonFile, info, rows);
  console.log(`\nGatehouse bench, ${info.date}, Node ${info.node}, ${info.cpus}`);
  console.log(
    `${loader}, ${connections} connections, ${durationS}s per row after a ${warmupS}s warm-up, ` +
      `${rounds > 1 ? `median of ${rounds} rounds, ` : ''}GET ${PATH}; ${info.pinning}; gateway allocator ${info.allocator}; ` +
      `load average ${info.loadBefore.toFixed(1)} before, ${info.loadAfter.toFixed(1)} after\n`,
  );
  console.log(table(rows));
  const latency = fixedRateTable(rows);
  if (latency)
    console.log(
      `\nFixed rate (open loop, latency from when each request was due; after ${rateWarmupS}s at ${rates[0]} req/s):\n\n${latency}`,
    );
  console.log(`\nMarkdown:\n\n${markdown(rows)}\n\n${fixedRateMarkdown(rows)}\n\nJSON: ${jsonFile}`);
  return failures.size > 0 ? 1 : 0;
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    interrupted = true;
    log(`${signal}: stopping every process`);
    void stopAll(2000).then(() => process.exit(130));
  });
}

let code = 1;
try {
  code = await main();
} catch (error) {
  log((error as Error).stack ?? String(error));
} finally {
  await stopAll();
}
process.exit(code);
