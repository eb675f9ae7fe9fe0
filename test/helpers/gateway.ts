// Starts a real gateway in-process from a config object, on free ports, with its
// JSON log lines captured for assertions.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { type Gateway, startGateway } from '../../src/main.ts';

export interface TestGateway {
  readonly gateway: Gateway;
  readonly url: string;
  readonly adminUrl: string;
  readonly configFile: string;
  /** Parsed log lines so far. */
  logs(): Record<string, unknown>[];
  /** Rewrites the config file (for reload tests). */
  writeConfig(config: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly dnsServers?: readonly string[];
  /** Reload on file changes (default true); tests that call reload() themselves turn it off. */
  readonly watch?: boolean;
}

export async function startTestGateway(
  config: Record<string, unknown>,
  options: TestGatewayOptions = {},
): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-test-'));
  const configFile = join(dir, 'gateway.yaml');
  const withPorts = (c: Record<string, unknown>) => ({
    ...c,
    server: { host: '127.0.0.1', port: 0, ...(c.server as object) },
    admin: { port: 0, ...(c.admin as object) },
  });
  await writeFile(configFile, stringify(withPorts(config)));
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  const gateway = await startGateway({
    configFile,
    env: options.env ?? {},
    logDestination: destination,
    dnsServers: options.dnsServers,
    watch: options.watch,
  });
  let closed = false;
  return {
    gateway,
    url: gateway.url,
    adminUrl: gateway.adminUrl ?? '',
    configFile,
    logs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
    async writeConfig(next) {
      await writeFile(configFile, stringify(withPorts(next)));
    },
    async close() {
      if (closed) return;
      closed = true;
      // Nothing is in flight when a test ends its gateway: idle connections close at once.
      await gateway.shutdown({ idleGraceMs: 0 });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The value of one series on the gateway's /metrics (exactly these labels), 0 when absent. */
export async function metricValue(
  gw: TestGateway,
  name: string,
  labels: Readonly<Record<string, string>>,
): Promise<number> {
  const response = await fetch(`${gw.adminUrl}/metrics`);
  const text = await response.text();
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const present = line.slice(name.length + 1, close).split(',');
    if (wanted.length === present.length && wanted.every((label) => present.includes(label))) {
      return Number(line.slice(close + 1).trim());
    }
  }
  return 0;
}
