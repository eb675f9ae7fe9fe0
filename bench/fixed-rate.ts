// Fixed-rate (open-loop) loader, wrk2-style: request i is due at start + i / rate
// whether or not earlier ones have answered, and its latency counts from when it was
// due, so a stall shows in the percentiles instead of slowing the loader down
// (coordinated omission). Run as a child by the bench:
//   node bench/fixed-rate.ts <url> <req/s> <seconds> <warm-up seconds> <connections> [headers JSON]
// and prints one JSON object: { rate, achieved, requests, errors, p50Ms, p99Ms, p999Ms, maxMs }.
import { Pool } from 'undici';

const [url, rateArg, durationArg, warmupArg, connectionsArg, headersArg] = process.argv.slice(2);
const target = new URL(url);
const rate = Number(rateArg);
const durationS = Number(durationArg);
const warmupS = Number(warmupArg);
const headers = headersArg ? (JSON.parse(headersArg) as Record<string, string>) : {};
const pool = new Pool(target.origin, { connections: Number(connectionsArg), pipelining: 1 });
const path = target.pathname + target.search;

interface Phase {
  latencies: Float64Array;
  count: number;
  errors: number;
}

/** Sends `rate` requests a second for `seconds`; resolves when every one has answered. */
async function phase(seconds: number, record: boolean): Promise<Phase> {
  const total = Math.round(rate * seconds);
  const result: Phase = { latencies: new Float64Array(record ? total : 0), count: 0, errors: 0 };
  const start = performance.now();
  const pending: Promise<void>[] = [];
  let sent = 0;
  const fire = (due: number) =>
    pool
      .request({ method: 'GET', path, headers })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode < 200 || res.statusCode > 299) result.errors++;
      })
      .catch(() => {
        result.errors++;
      })
      .then(() => {
        if (record) result.latencies[result.count++] = performance.now() - due;
      });
  while (sent < total) {
    const now = performance.now();
    // Everything due by now goes out now, each stamped with its own due time.
    const due = Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
    for (; sent < due; sent++) pending.push(fire(start + (sent * 1000) / rate));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(pending);
  return result;
}

if (warmupS > 0) await phase(warmupS, false);
const started = performance.now();
const measured = await phase(durationS, true);
const elapsedS = (performance.now() - started) / 1000;
const sorted = measured.latencies.subarray(0, measured.count).sort();
const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
process.stdout.write(
  `${JSON.stringify({
    rate,
    achieved: measured.count / elapsedS,
    requests: measured.count,
    errors: measured.errors,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    p999Ms: at(0.999),
    maxMs: sorted[sorted.length - 1] ?? 0,
  })}\n`,
);
await pool.close();
