// Waiting for something that happens soon after an action, without a fixed sleep: log
// lines reach stdout in batches (src/observability/log-writer.ts), state settles after
// a reload. Fails with `what` when it does not happen in time.
export async function until(condition: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
