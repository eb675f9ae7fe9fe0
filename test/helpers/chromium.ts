// Headless Chromium for the dashboard tests, through playwright-core and the system's
// browser (Debian's `chromium`; CHROMIUM overrides the path). Project rule: without
// it the test fails under CI=true and is skipped loudly elsewhere.
import { accessSync, constants } from 'node:fs';
import type { TestContext } from 'node:test';
import { type Browser, chromium } from 'playwright-core';

const CHROMIUM_BIN = process.env.CHROMIUM ?? '/usr/bin/chromium';

function unavailableReason(): string | undefined {
  try {
    accessSync(CHROMIUM_BIN, constants.X_OK);
    return undefined;
  } catch (error) {
    return `${CHROMIUM_BIN} not runnable: ${(error as Error).message}`;
  }
}

/** Call first: `const browser = await launchChromium(t); if (!browser) return;`. */
export async function launchChromium(t: TestContext): Promise<Browser | undefined> {
  const reason = unavailableReason();
  if (reason !== undefined) {
    if (process.env.CI === 'true') throw new Error(`chromium is required under CI=true (${reason})`);
    console.warn(
      `\n!!!! SKIPPED: ${t.name}: chromium not installed (${reason}). Install chromium (apt-get install chromium) to run the dashboard tests. !!!!\n`,
    );
    t.skip(`chromium not installed: ${reason}`);
    return undefined;
  }
  // --no-sandbox: test machines and CI run as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM_BIN, args: ['--no-sandbox', '--disable-gpu'] });
}
