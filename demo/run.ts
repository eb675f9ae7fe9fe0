// `npm run demo`: the demo services in this process, the gateway as a child running
// the real CLI, then the curl walk-through. Ctrl-C stops the gateway (drained) and
// the services. Ports and URLs come from demo/gateway.yaml only.
//   --jwt   run the gateway in auth mode jwt (JWKS from the auth service) via env overrides
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { spawnGateway, stopGateway, waitReady } from './gateway-child.ts';
import { instructions } from './instructions.ts';
import { assertPortsFree, type PortClaim } from './ports.ts';
import { startAuthService } from './services/auth.ts';
import { startCatalogService } from './services/catalog.ts';
import { startGreeterService } from './services/greeter.ts';
import type { RunningService } from './services/http.ts';
import { startOrdersService } from './services/orders.ts';
import { startUsersService } from './services/users.ts';
import { makeLocalhostCertificate } from './tls.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONFIG = 'demo/gateway.yaml';
const STARTERS: Record<string, (port: number) => Promise<RunningService>> = {
  auth: startAuthService,
  users: startUsersService,
  orders: startOrdersService,
  catalog: startCatalogService,
  greeter: startGreeterService,
};

interface DemoConfig {
  server?: {
    port?: number;
    shutdown_timeout?: string;
    tls?: { port?: number; certificates: { cert_file: string; key_file: string }[] };
  };
  admin?: { host?: string; port?: number };
  services: Record<string, { url?: string; urls?: string[] }>;
  rate_limit?: { per_client?: number; per_client_burst?: number };
}

function fail(message: string): never {
  console.error(`demo: ${message}`);
  process.exit(1);
}

const config = parse(readFileSync(new URL(`../${CONFIG}`, import.meta.url), 'utf8')) as DemoConfig;
const gatewayPort = config.server?.port ?? 8080;
const httpsPort = config.server?.tls?.port;
const certificate = config.server?.tls?.certificates[0];
if (certificate) {
  try {
    makeLocalhostCertificate(dirname(join(ROOT, certificate.cert_file)));
  } catch (error) {
    fail(
      `cannot make the HTTPS certificate with openssl (${(error as Error).message.split('\n')[0]}); install openssl, or remove server.tls from ${CONFIG}`,
    );
  }
}
const adminHost = config.admin?.host ?? '127.0.0.1';
const adminPort = config.admin?.port ?? 9090;
const instances = Object.entries(config.services).flatMap(([name, service]) => {
  if (!STARTERS[name]) fail(`${CONFIG} names a service "${name}" that demo/run.ts cannot start`);
  return (service.urls ?? [service.url!]).map((url) => ({ name, port: Number(new URL(url).port) }));
});

const claims: PortClaim[] = [
  ...instances.map(({ name, port }) => ({ port, host: '127.0.0.1', label: `${name} service` })),
  { port: gatewayPort, host: '0.0.0.0', label: 'gateway' },
  ...(httpsPort ? [{ port: httpsPort, host: '0.0.0.0', label: 'gateway (HTTPS)' }] : []),
  { port: adminPort, host: adminHost, label: 'gateway admin' },
];
await assertPortsFree(claims).catch((error: Error) => fail(error.message));

const services: RunningService[] = [];
const closeServices = () => Promise.all(services.map((s) => s.close()));
try {
  for (const { name, port } of instances) services.push(await STARTERS[name](port));
} catch (error) {
  await closeServices();
  fail((error as Error).message);
}

const authUrl = `http://127.0.0.1:${instances.find((i) => i.name === 'auth')?.port ?? 3000}`;
const env = { ...process.env };
if (process.argv.includes('--jwt')) {
  // DESIGN.md: every config key can be overridden by an environment variable.
  env.AUTH_MODE = 'jwt';
  env.AUTH_JWKS_URL = `${authUrl}/.well-known/jwks.json`;
}
const gateway = spawnGateway('src/cli.ts', CONFIG, env, ROOT);
const graceMs = 10_000; // above the demo's shutdown_timeout (5s), so SIGKILL is a last resort

let stopping = false;
async function stop(reason: string, exitCode: number): Promise<never> {
  if (stopping) {
    gateway.child.kill('SIGKILL'); // second Ctrl-C: the user wants out now
    process.exit(1);
  }
  stopping = true;
  console.error(`\ndemo: ${reason}; stopping the gateway and the services...`);
  const code = await stopGateway(gateway, graceMs);
  await closeServices();
  console.error(`demo: stopped (gateway exit ${code})`);
  process.exit(exitCode || (code === 0 ? 0 : 1));
}
process.on('SIGINT', () => void stop('SIGINT', 0));
process.on('SIGTERM', () => void stop('SIGTERM', 0));

try {
  await waitReady(gateway, `http://127.0.0.1:${gatewayPort}/ready`, 30_000);
} catch (error) {
  console.error(`demo: ${(error as Error).message}\n--- gateway output ---\n${gateway.output()}`);
  await stop('the gateway did not start', 1);
}
void gateway.exited.then((code) => {
  if (!stopping) void stop(`the gateway exited on its own (${code})`, 1);
});

const servicesLine = Object.keys(config.services)
  .map((name) => `${name} ${instances.flatMap((i) => (i.name === name ? [`:${i.port}`] : [])).join(' ')}`)
  .join(', ');
console.log(`
Gatehouse demo is ready${env.AUTH_MODE === 'jwt' ? ' (auth mode jwt)' : ''}.
  gateway  http://localhost:${gatewayPort}${httpsPort ? `  https://localhost:${httpsPort}` : ''}     admin  http://${adminHost}:${adminPort}
  services ${servicesLine}
Paste these in another terminal:
${instructions({
  gateway: `http://localhost:${gatewayPort}`,
  https:
    httpsPort && certificate
      ? { url: `https://localhost:${httpsPort}`, cacert: certificate.cert_file }
      : undefined,
  admin: `http://${adminHost}:${adminPort}`,
  jwks: `${authUrl}/.well-known/jwks.json`,
  perClient: config.rate_limit?.per_client ?? 10,
  perClientBurst: config.rate_limit?.per_client_burst ?? 20,
})}
Ctrl-C stops everything. Gateway log (JSON lines) follows:
`);
gateway.follow();
